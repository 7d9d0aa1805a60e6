# flaky_wan's main: two sites behind routers (this VM's namespaces do not forward until forward()
# says so), a netem delay ramp on both WAN ends; its probes must show each echo's RTT at twice the
# one-way delay in force (-1/+15 ms). After the run both WAN qdiscs are the default again, and down
# removes the rest.
. ./lib.sh
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ] || fail "this VM's root namespace forwards: forward() would not be tested"
out=$(pw run flaky_wan from=10ms to=60ms over=2s steps=4 2>&1) || fail "flaky_wan: $out"
has "$out" "RTT followed 10ms -> 60ms"
has "$out" "back to the default"
for r in fw-ra fw-rb; do
  q=$(tc -n $r qdisc show dev wan0)
  echo "$q" | grep -q netem && fail "netem left on $r: $q"
  [ "$(ip netns exec $r cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "$r does not forward"
done
pw down flaky_wan
[ -z "$(ip netns list | grep '^fw-')" ] || fail "left: $(ip netns list)"
