# join(): an interface with the host's address or default route is refused unless forced (its
# addresses would stop working as a bridge port); forced, it joins, and down() puts it back
# as it was: out of the bridge, its address still there, its link state as before.
. ./lib.sh
ip link add ktj0 type veth peer name ktj1
ip addr add 198.18.58.2/24 dev ktj0
expect_fail "has the host's address 198.18.58.2/24" -e 'owner("kt-j"); join(bridge("kt-jb"), "ktj0")'
ip link show kt-jb 2>/dev/null && fail "the refused run left its bridge"
ip link set ktj0 up
ip route add default via 198.18.58.1 dev ktj0
expect_fail "carries the host's default route" -e 'owner("kt-j"); join(bridge("kt-jb"), "ktj0")'
before=$(ip -4 -o addr show dev ktj0)
pw -e 'owner("kt-j"); join(bridge("kt-jb"), "ktj0", #{force: true})' >/dev/null
has "$(ip -o link show ktj0)" "master kt-jb"
[ "$(pw -e 'owner("kt-j"); join(bridge("kt-jb"), "ktj0", #{force: true})')" = "false" ] || fail "a re-run joined again"
pw down kt-j >/dev/null
ip -o link show ktj0 | grep -q master && fail "still a bridge port"
[ "$before" = "$(ip -4 -o addr show dev ktj0)" ] || fail "the address changed"
ip link show kt-jb 2>/dev/null && fail "bridge left"
ip link del ktj0
