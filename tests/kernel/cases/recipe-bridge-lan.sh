# bridge_lan on a stand-in uplink (in this VM, whose root namespace is the test's own): refused
# without force (it carries the default route); forced, the uplink's addresses and routes move to
# the bridge, the guests and the host reach the LAN through it, a re-run changes nothing, and
# down puts the uplink back byte for byte (`ip -j` of its addresses and of both route tables).
. ./lib.sh
ip netns add kt-lan
ip link add ktu0 type veth peer name ktu1
ip link set ktu1 netns kt-lan
ip -n kt-lan link set ktu1 up
ip -n kt-lan addr add 198.18.71.1/24 dev ktu1
ip -n kt-lan addr add fd00:71::1/64 dev ktu1 nodad
ip link set ktu0 up
# What a real uplink carries: a broadcast and a label, an IPv6 address, a default route with a
# metric, a static route of another protocol, an IPv6 default route.
ip addr add 198.18.71.2/24 brd + dev ktu0 label ktu0:lan
ip addr add fd00:71::2/64 dev ktu0 nodad
ip route add default via 198.18.71.1 dev ktu0 metric 50
ip route add 198.51.100.0/24 via 198.18.71.1 dev ktu0 proto static
ip -6 route add default via fd00:71::1 dev ktu0 metric 60
snap() { ip -j addr show dev ktu0; ip -j route show table all; ip -j -6 route show table all; }
# The link-local address is tentative for a moment after the link comes up: compare settled states.
settled() { i=0; while [ -n "$(ip -6 addr show tentative)" ]; do i=$((i+1)); [ $i -lt 100 ] || fail "DAD never finished"; sleep 0.1; done; }
settled
before=$(snap)
expect_fail "carries the host's default route" run bridge_lan --owner kt-bl uplink=ktu0 bridge=kt-blb subnet=198.18.71.0/24 gateway=198.18.71.1 prefix=kt-bl
ip link show kt-blb 2>/dev/null && fail "the refused run left its bridge"
[ "$before" = "$(snap)" ] || fail "the refused run changed the uplink"
out=$(pw run bridge_lan --owner kt-bl uplink=ktu0 bridge=kt-blb subnet=198.18.71.0/24 gateway=198.18.71.1 prefix=kt-bl force=true)
has "$out" "bridge_lan: 2 guests on the LAN through kt-blb"
# Moved: the bridge holds them, the uplink is a bare port.
has "$(ip -o link show ktu0)" "master kt-blb"
has "$(ip -4 -o addr show dev kt-blb)" "198.18.71.2/24 brd 198.18.71.255"
has "$(ip -6 -o addr show dev kt-blb)" "fd00:71::2/64"
[ -z "$(ip -4 -o addr show dev ktu0)" ] || fail "the uplink kept its IPv4 address"
has "$(ip route show default)" "default via 198.18.71.1 dev kt-blb metric 50"
has "$(ip route show 198.51.100.0/24)" "via 198.18.71.1 dev kt-blb proto static"
has "$(ip -6 route show default)" "via fd00:71::1 dev kt-blb metric 60"
# The host's MAC on the LAN stays the uplink's (the bridge takes it), whatever ports come and go.
[ "$(cat /sys/class/net/kt-blb/address)" = "$(cat /sys/class/net/ktu0/address)" ] || fail "the bridge answers with another MAC than the uplink's"
# By traffic, independently of pipework: the LAN reaches the host and a guest, a guest the router.
reaches kt-lan 198.18.71.2 || fail "the LAN lost the host"
reaches kt-lan 198.18.71.100 || fail "the LAN does not reach a guest"
reaches kt-bl2 198.18.71.1 || fail "a guest does not reach the router"
has "$(ip -n kt-bl1 route show default)" "via 198.18.71.1"
topo() { ip -o link show; ip -o addr show; ip route show table all; ip -6 route show table all; }
settled
t1=$(topo)
pw run bridge_lan --owner kt-bl uplink=ktu0 bridge=kt-blb subnet=198.18.71.0/24 gateway=198.18.71.1 prefix=kt-bl force=true >/dev/null
settled
t2=$(topo)
[ "$t1" = "$t2" ] || { echo "$t1" > /tmp/t1; echo "$t2" > /tmp/t2; diff /tmp/t1 /tmp/t2 >&2; fail "a re-run changed something"; }
pw down kt-bl >/dev/null
ip link show kt-blb 2>/dev/null && fail "bridge left"
[ -z "$(ip netns list | grep kt-bl)" ] || fail "guests left"
settled
after=$(snap)
[ "$before" = "$after" ] || { echo "before: $before" >&2; echo "after:  $after" >&2; fail "the uplink did not come back as it was"; }
reaches kt-lan 198.18.71.2 || fail "the host is not back on the LAN through its uplink"
ls -A /run/pipework/joined | grep -q . && fail "join records left: $(ls -A /run/pipework/joined)"
ip link del ktu0
ip netns del kt-lan
