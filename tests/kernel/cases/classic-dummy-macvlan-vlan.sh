# Classic dummy* host names and macvlan over an 802.1Q parent (`… @VLAN`), with tagged traffic.
. ./lib.sh
ip netns add kt-du
pipework dummy0 kt-du 198.18.45.2/24
has "$(ip -n kt-du -d link show eth1)" "dummy"
has "$(ip -n kt-du addr show eth1)" "198.18.45.2/24"
# A stand-in NIC: one veth end in the host, the other in a peer namespace with VLAN 10 on it.
ip netns add kt-peer; ip netns add kt-mv
ip link add ktp0 type veth peer name ktp1
ip link set ktp1 netns kt-peer
ip -n kt-peer link set ktp1 up
ip -n kt-peer link add link ktp1 name ktp1.10 type vlan id 10
ip -n kt-peer addr add 198.18.46.1/24 dev ktp1.10
ip -n kt-peer link set ktp1.10 up
pipework ktp0 kt-mv 198.18.46.2/24 @10
has "$(ip -d link show ktp0.10)" "vlan protocol 802.1Q id 10"
has "$(ip -n kt-mv -d link show eth1)" "macvlan mode bridge"
reaches kt-mv 198.18.46.1 || fail "tagged traffic over the macvlan did not pass"
pw -e 'down("kt-du"); down("kt-mv")'
ip link del ktp0 2>/dev/null || true
