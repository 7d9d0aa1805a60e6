# Baseline: the host-tier attach works the same on a full kernel (v4 and v6), witnessed by
# busybox ping and iproute2, not by pipework's own ping().
. ./lib.sh
pw -e '
let br = bridge("kt-br0");
veth(netns("kt-a"), br, #{ ip: ["198.18.20.2/24", "fd00:20::2/64"] });
veth(netns("kt-b"), br, #{ ip: ["198.18.20.3/24", "fd00:20::3/64"] });
' >/dev/null
has "$(ip -n kt-a -o addr show dev eth1)" "198.18.20.2/24"
has "$(ip -n kt-b -o addr show dev eth1)" "fd00:20::3/64"
reaches kt-a 198.18.20.3 || fail "v4 ping failed"
reaches kt-a fd00:20::3 || fail "v6 ping failed"
pw -e 'down()' >/dev/null
ip link show kt-br0 2>/dev/null && fail "bridge left"
[ -z "$(ip netns list | grep kt-)" ] || fail "namespaces left"
