# vlan(): an 802.1Q sub-interface named PARENT.ID with its address, marked as ours.
. ./lib.sh
pw -e 'owner("kt"); let a = veth(netns("kt-v"), bridge("kt-brv"), #{ip: "198.18.23.2/24"}); vlan(a.link, 10, #{ip: "198.18.24.2/24"})'
l=$(ip -n kt-v -d link show eth1.10)
has "$l" "vlan protocol 802.1Q id 10"
has "$l" "eth1.10@eth1"
has "$l" "UP"
has "$(ip -n kt-v addr show eth1.10)" "198.18.24.2/24"
pw -e 'down("kt")'
