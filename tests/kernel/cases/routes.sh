# Routes: add, identical re-add is a no-op, replace changes, delete removes, other tables work.
. ./lib.sh
pw -e '
let g = netns("kt-rt");
veth(g, bridge("kt-brrt"), #{ip: "198.18.40.2/24"});
route(g, "add 198.51.100.0/24 via 198.18.40.1");
if route(g, "add 198.51.100.0/24 via 198.18.40.1") { throw "second add should be a no-op"; }
route(g, "replace 198.51.100.0/24 via 198.18.40.9");
route(g, #{to: "10.0.0.0/8", via: "198.18.40.1", table: 100});
'
has "$(ip -n kt-rt route show 198.51.100.0/24)" "via 198.18.40.9"
has "$(ip -n kt-rt route show table 100)" "10.0.0.0/8 via 198.18.40.1"
# Ours carry protocol 112, the marker `show` and `save` find them by.
has "$(ip -n kt-rt route show proto 112)" "198.51.100.0/24 via 198.18.40.9"
pw -e 'route(netns("kt-rt"), "del 198.51.100.0/24")'
[ -z "$(ip -n kt-rt route show 198.51.100.0/24)" ] || fail "route not deleted"
# A route somebody else added (proto boot) is deleted too.
ip -n kt-rt route add 198.51.100.128/25 via 198.18.40.1
pw -e 'route(netns("kt-rt"), "del 198.51.100.128/25")'
[ -z "$(ip -n kt-rt route show 198.51.100.128/25)" ] || fail "route added by ip not deleted"
expect_fail "different route" -e 'route(netns("kt-rt"), "add 10.0.0.0/8 via 198.18.40.2 table 100")'
pw -e 'down()'
