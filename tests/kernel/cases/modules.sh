# The tier itself: the kernel features the host lacks are really here.
. ./lib.sh
ip link add ktd0 type dummy || fail "no dummy"
ip link add link ktd0 name ktd0.10 type vlan id 10 || fail "no 8021q"
ip link add ktbr type bridge vlan_filtering 1 || fail "no vlan_filtering"
ip link add ktiv link ktd0 type ipvlan mode l2 || fail "no ipvlan"
tc qdisc add dev ktd0 root netem delay 1ms || fail "no netem"
ip link del ktd0; ip link del ktbr
