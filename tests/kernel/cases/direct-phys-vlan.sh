# --direct-phys with @VLAN (the original moves IF.VID): the 802.1Q sub-interface is made, marked and
# handed to the guest, the parent stays in the host; tagged traffic reaches the LAN; a re-run changes
# nothing; down gives back what was there (the sub-interface pipework made is deleted, the parent
# left as it was), and a sub-interface the user made is given back, not deleted.
. ./lib.sh
vlan_lan kt-dpl ktd0 ktd1 20:198.18.47.1/24 21:198.18.48.1/24
ip netns add kt-dp
pw --direct-phys ktd0 kt-dp 198.18.47.2/24 @20
has "$(ip -n kt-dp -d link show eth1)" "vlan protocol 802.1Q id 20"
has "$(ip -n kt-dp addr show eth1)" "198.18.47.2/24"
ip link show ktd0 >/dev/null 2>&1 || fail "the parent left the host"
ip link show ktd0.20 >/dev/null 2>&1 && fail "ktd0.20 is still in the host"
reaches kt-dp 198.18.47.1 || fail "tagged traffic from the guest did not reach the LAN"
# VLAN 21's address is out of reach over the VLAN 20 interface (its positive control below: the
# same guest reaches it once it holds a VLAN 21 interface).
ip -n kt-dp addr add 198.18.48.2/24 dev eth1
reaches kt-dp 198.18.48.1 && fail "VLAN 21 reached over the VLAN 20 sub-interface"
ip -n kt-dp addr del 198.18.48.2/24 dev eth1
before=$(ip -n kt-dp -d link show eth1)
pw --direct-phys ktd0 kt-dp 198.18.47.2/24 @20
[ "$before" = "$(ip -n kt-dp -d link show eth1)" ] || fail "a re-run changed the guest's interface"
pw down kt-dp
ip -n kt-dp link show eth1 >/dev/null 2>&1 && fail "eth1 still in the guest after down"
ip link show ktd0.20 >/dev/null 2>&1 && fail "the sub-interface pipework made outlived down"
has "$(ip link show ktd0)" "ktd0"
ip link show ktd0 | grep -q alias && fail "the parent still carries a marker: $(ip link show ktd0)"
# A sub-interface the user made is handed over and given back under its own name.
ip link add link ktd0 name ktd0.21 type vlan id 21
pw --direct-phys ktd0 kt-dp 198.18.48.2/24 @21
reaches kt-dp 198.18.48.1 || fail "control: the user's ktd0.21 did not reach VLAN 21 in the guest"
pw down kt-dp
has "$(ip -d link show ktd0.21)" "vlan protocol 802.1Q id 21"
ip link show ktd0.21 | grep -q alias && fail "the user's ktd0.21 still carries a marker"
ip link del ktd0
