# Re-running dummy() is a no-op: same ifindex, no duplicate address.
. ./lib.sh
ip netns add kt-dr
pw -e 'dummy(netns("kt-dr"), "dum1", #{ip: "198.18.22.1/24"})'
i1=$(ip -n kt-dr -o link show dum1 | cut -d: -f1)
pw -e 'dummy(netns("kt-dr"), "dum1", #{ip: "198.18.22.1/24"})'
i2=$(ip -n kt-dr -o link show dum1 | cut -d: -f1)
[ "$i1" = "$i2" ] || fail "dummy was recreated ($i1 -> $i2)"
[ "$(ip -n kt-dr -o -4 addr show dum1 | wc -l)" = 1 ] || fail "address duplicated"
expect_fail "already exists" -e 'vlan(link(netns("kt-dr"), "lo"), 5, #{name: "dum1"})'
