# multi_host on vlan_filtering Linux bridges, two hosts played by two underlay namespaces cabled by a
# veth pair: over GRE (gretap, a key per VLAN), then over VXLAN. Host B's own check proves A's guests
# reachable within their VLAN and not across; independent busybox pings agree; cutting the underlay
# cuts the hosts apart (the tunnels are the only path); a re-run changes nothing; down removes all.
. ./lib.sh
ip netns add kt-mua; ip netns add kt-mub
ip link add kt-mwa netns kt-mua type veth peer name kt-mwb netns kt-mub
ip -n kt-mua addr add 198.51.100.1/24 dev kt-mwa; ip -n kt-mua link set kt-mwa up
ip -n kt-mub addr add 198.51.100.2/24 dev kt-mwb; ip -n kt-mub link set kt-mwb up
for t in gre vxlan; do
  common="switch=linux subnet=198.18.48.0/24 vni_base=1000"
  pw run multi_host --owner kt-mha tunnel=$t:198.51.100.2 host=netns:kt-mua bridge=kt-mhba prefix=kt-mha first=1 $common >/dev/null
  out=$(pw run multi_host --owner kt-mhb tunnel=$t:198.51.100.1 host=netns:kt-mub bridge=kt-mhbb prefix=kt-mhb first=11 $common \
    peers=100:198.18.48.1,100:198.18.48.2,200:198.18.48.3,200:198.18.48.4)
  has "$out" "multi_host: 4 guests here, 4 peers, reachable within their VLAN, isolated across"
  kind=gretap; [ $t = vxlan ] && kind=vxlan
  d=$(ip -d link show kt-mhbav100)
  has "$d" "$kind"
  has "$d" "link-netns"
  [ $t = gre ] && has "$d" "key 0.0.4.76"   # 1000 + 100, as a dotted quad
  has "$(bridge vlan show dev kt-mhbav200)" "200 PVID Egress Untagged"
  reaches kt-mha1 198.18.48.11 || fail "$t: vlan 100 cut off across the hosts"
  reaches kt-mhb3 198.18.48.3 || fail "$t: vlan 200 cut off across the hosts"
  reaches kt-mha1 198.18.48.13 && fail "$t: vlan 100 reached vlan 200 across the hosts"
  reaches kt-mhb1 198.18.48.3 && fail "$t: vlan 100 reached vlan 200 across the hosts"
  ip -n kt-mua link set kt-mwa down
  reaches kt-mha1 198.18.48.11 && fail "$t: the hosts met without their underlay"
  ip -n kt-mua link set kt-mwa up
  topo() { ip -o link show; bridge vlan show; }
  before=$(topo)
  pw run multi_host --owner kt-mha tunnel=$t:198.51.100.2 host=netns:kt-mua bridge=kt-mhba prefix=kt-mha first=1 $common >/dev/null
  [ "$before" = "$(topo)" ] || fail "$t: a re-run changed the topology"
  pw down kt-mha >/dev/null; pw down kt-mhb >/dev/null
  ip link show kt-mhba 2>/dev/null && fail "$t: switch left"
  ip -o link show | grep -q kt-mhb && fail "$t: links left: $(ip -o link show | grep kt-mh)"
  [ -z "$(ip netns list | grep kt-mh)" ] || fail "$t: namespaces left"
done
ip -n kt-mua -o link show | grep -q kt-mh && fail "the underlay namespace kept a tunnel: $(ip -n kt-mua -o link show)"
ip netns del kt-mua; ip netns del kt-mub
