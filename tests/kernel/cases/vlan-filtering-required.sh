# A VLAN on a non-filtering Linux bridge is refused, and nothing is left half-made.
. ./lib.sh
ip netns add kt-fr
expect_fail "vlan_filtering" -e 'veth(netns("kt-fr"), bridge("kt-brq"), #{ip: "198.18.34.2/24", vlan: 10})'
[ "$(ip -n kt-fr -o link show | wc -l)" = 1 ] || fail "guest end left behind"
if ip link show veth1plkt-fr >/dev/null 2>&1; then fail "host end left behind"; fi
expect_fail "VLAN id" -e 'veth(netns("kt-fr"), bridge("kt-brq", #{vlan_filtering: true}), #{vlan: 5000})'
