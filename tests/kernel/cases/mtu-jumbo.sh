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
ip netns exec kt-ja ping -c 1 -W 2 -s 8900 198.18.36.3 >/dev/null || fail "jumbo ping failed"
pw -e 'down()'
