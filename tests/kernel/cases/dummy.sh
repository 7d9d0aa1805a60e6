# dummy() inside a guest: kind, address, up, ownership marker.
. ./lib.sh
pw -e 'owner("kt"); dummy(netns("kt-d"), "dum0", #{ip: "198.18.21.1/24", mtu: 1400})'
l=$(ip -n kt-d -d link show dum0)
has "$l" "dummy"
has "$l" "mtu 1400"
has "$l" "UP"
has "$l" "alias pipework owner=kt"
has "$(ip -n kt-d addr show dum0)" "198.18.21.1/24"
pw -e 'down("kt")'
[ -z "$(ip netns list | grep kt-d)" ] || fail "netns left behind"
