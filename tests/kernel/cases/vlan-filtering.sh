# A VLAN-filtering Linux bridge isolates access VLANs by traffic.
. ./lib.sh
pw -e '
let br = bridge("kt-brf", #{vlan_filtering: true});
veth(netns("kt-fa"), br, #{ip: "198.18.33.2/24", vlan: 10});
veth(netns("kt-fb"), br, #{ip: "198.18.33.3/24", vlan: 10});
veth(netns("kt-fc"), br, #{ip: "198.18.33.4/24", vlan: 20});
veth(netns("kt-fd"), br, #{ip: "198.18.33.5/24", vlan: 20});
'
has "$(ip -d link show kt-brf)" "vlan_filtering 1"
v=$(bridge vlan show dev veth1plkt-fa)
has "$v" "10 PVID Egress Untagged"
if echo "$v" | awk '$1 == "1" || $2 == "1" {found=1} END {exit !found}'; then fail "default VLAN 1 still on the port: $v"; fi
reaches kt-fa 198.18.33.3 || fail "same VLAN must pass"
if reaches kt-fa 198.18.33.4; then fail "VLAN 10 reached VLAN 20"; fi
# The control: the target is there and answers its own VLAN.
reaches kt-fd 198.18.33.4 || fail "VLAN 20 to VLAN 20 must pass (the control)"
pw -e 'down()'
