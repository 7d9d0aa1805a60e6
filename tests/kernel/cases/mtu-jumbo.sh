# Jumbo MTU end to end: bridge, veth ends, and a large ping that must not fragment.
. ./lib.sh
pw -e '
let br = bridge("kt-brj", #{mtu: 9000});
veth(netns("kt-ja"), br, #{ip: "198.18.36.2/24", mtu: 9000});
veth(netns("kt-jb"), br, #{ip: "198.18.36.3/24"});
'
has "$(ip -n kt-ja link show eth1)" "mtu 9000"
has "$(ip link show veth1plkt-ja)" "mtu 9000"
# Without an explicit mtu the pair inherits the bridge MTU, like the original pipework.
has "$(ip -n kt-jb link show eth1)" "mtu 9000"
# busybox ping cannot set don't-fragment: the kernel's own counters say whether it fragmented.
frags() { ip netns exec "$1" cat /proc/net/snmp | awk '/^Ip:/ { if (h) { for (i = 1; i <= NF; i++) if (n[i] == "FragCreates") print $i } else { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } }'; }
f0=$(frags kt-ja)
ip netns exec kt-ja ping -c 1 -W 2 -s 8900 198.18.36.3 >/dev/null || fail "jumbo ping failed"
[ "$(frags kt-ja)" = "$f0" ] || fail "the 8900-byte ping was fragmented: the path is not jumbo"
# The control: a datagram above the 9000 MTU is fragmented, so the counter does see it.
ip netns exec kt-ja ping -c 1 -W 2 -s 9100 198.18.36.3 >/dev/null || fail "fragmented ping failed"
[ "$(frags kt-ja)" -gt "$f0" ] || fail "FragCreates did not move for a 9100-byte ping: the witness is blind"
pw -e 'down()'
