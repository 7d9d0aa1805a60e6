# IPv6 gateway becomes the guest's default IPv6 route; an off-subnet one is reached on-link, as the
# original does for failover addresses; the guest's own address as gateway is refused.
. ./lib.sh
pw -e 'veth(netns("kt-g6"), bridge("kt-br6"), #{ip: "fd00:37::2/64", gateway: "fd00:37::1"})'
has "$(ip -n kt-g6 -6 route show default)" "via fd00:37::1 dev eth1"
pw -e 'veth(netns("kt-g6b"), bridge("kt-br6"), #{ip: "fd00:38::2/64", gateway: "fd00:39::1"})'
has "$(ip -n kt-g6b -6 route show default)" "via fd00:39::1 dev eth1"
has "$(ip -n kt-g6b -6 route show default)" "onlink"
expect_fail "the guest's own address" -e 'veth(netns("kt-g6"), bridge("kt-br6"), #{ip: "fd00:38::2/64", gateway: "fd00:38::2", ifname: "eth2"})'
pw -e 'down()'
