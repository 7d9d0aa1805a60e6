# Tagged traffic: guests reach each other over matching VLAN ids, not over different ones.
. ./lib.sh
pw -e '
let br = bridge("kt-brt");
let a = veth(netns("kt-ta"), br, #{ip: "198.18.25.2/24"});
let b = veth(netns("kt-tb"), br, #{ip: "198.18.25.3/24"});
vlan(a.link, 100, #{ip: "198.18.26.2/24"});
vlan(b.link, 100, #{ip: "198.18.26.3/24"});
vlan(a.link, 200, #{ip: "198.18.27.2/24"});
vlan(b.link, 300, #{ip: "198.18.27.3/24"});
'
reaches kt-ta 198.18.26.3 || fail "VLAN 100 to VLAN 100 must pass"
if reaches kt-ta 198.18.27.3; then fail "VLAN 200 must not reach VLAN 300"; fi
# The control: the target is there and answers once the sender is on its VLAN.
ip -n kt-ta link del eth1.200
pw -e 'vlan(link(netns("kt-ta"), "eth1"), 300, #{ip: "198.18.27.2/24"});' >/dev/null
reaches kt-ta 198.18.27.3 || fail "VLAN 300 to VLAN 300 must pass (the control)"
pw -e 'down()'
