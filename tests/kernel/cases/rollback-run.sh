# A failing run rolls back everything it created, on this kernel too.
. ./lib.sh
cat > /tmp/fail.rhai <<'R'
let g = netns("kt-rb");
dummy(g, "dum5", #{ip: "198.18.42.5/24"});
veth(g, bridge("kt-brrb", #{vlan_filtering: true}), #{vlan: 12, ip: "198.18.43.5/24"});
vlan(link(g, "dum5"), 4095);
R
expect_fail "line 4" run /tmp/fail.rhai
[ -z "$(ip netns list | grep kt-rb)" ] || fail "netns left"
if ip link show kt-brrb >/dev/null 2>&1; then fail "bridge left"; fi
