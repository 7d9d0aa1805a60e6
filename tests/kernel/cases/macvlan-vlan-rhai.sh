# Rhai macvlan() with #{vlan}: the child sits on PARENT.VID (made by pipework), tagged traffic reaches
# the LAN's VLAN and not another one, and down removes the child and the sub-interface it made.
. ./lib.sh
vlan_lan kt-rpeer ktr0 ktr1 11:198.18.52.1/24 12:198.18.53.1/24
ip netns add kt-rmv
pw -e 'owner("kt-rmv"); macvlan(netns("kt-rmv"), "ktr0", #{vlan: 11, ip: "198.18.52.2/24"})'
has "$(ip -d link show ktr0.11)" "vlan protocol 802.1Q id 11"
has "$(ip -n kt-rmv -d link show eth1)" "macvlan mode bridge"
out=$(ip netns exec kt-rmv ping -c 1 -W 1 198.18.52.1 2>&1) || fail "VLAN 11 did not answer: $out"
# VLAN 12's subnet, tried over the VLAN 11 child: nobody answers.
ip -n kt-rmv addr add 198.18.53.2/24 dev eth1
reaches kt-rmv 198.18.53.1 && fail "VLAN 12's address answered over the VLAN 11 child"
# Control: VLAN 12 exists and answers on its own tag.
ip link add link ktr0 name ktr0.12 type vlan id 12
ip netns add kt-rctl
ip link set ktr0.12 netns kt-rctl
ip -n kt-rctl addr add 198.18.53.3/24 dev ktr0.12
ip -n kt-rctl link set ktr0.12 up
reaches kt-rctl 198.18.53.1 || fail "control: VLAN 12 does not answer on its own tag"
pw down kt-rmv
ip -n kt-rmv link show eth1 >/dev/null 2>&1 && fail "the macvlan child outlived down"
ip link show ktr0.11 >/dev/null 2>&1 && fail "ktr0.11, made by pipework, outlived down"
ip link del ktr0
