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
pw -e 'down()'
