# IPv6 gateway becomes the guest's default IPv6 route; an off-subnet gateway is refused.
. ./lib.sh
pw -e 'veth(netns("kt-g6"), bridge("kt-br6"), #{ip: "fd00:37::2/64", gateway: "fd00:37::1"})'
has "$(ip -n kt-g6 -6 route show default)" "via fd00:37::1 dev eth1"
expect_fail "not inside any" -e 'veth(netns("kt-g6"), bridge("kt-br6"), #{ip: "fd00:38::2/64", gateway: "fd00:39::1", ifname: "eth2"})'
pw -e 'down()'
