# The vlan_isolation recipe on a vlan_filtering Linux bridge: its own check by traffic, an
# independent one with busybox ping both ways, a re-run that changes nothing, and its teardown.
. ./lib.sh
out=$(pipework run vlan_isolation --owner kt-vi switch=linux bridge=kt-vib prefix=kt-vi subnet=198.18.47.0/24)
has "$out" "vlan_isolation: 4 guests, reachable within their VLAN, isolated across"
has "$(bridge vlan show dev veth1plkt-vi1)" "100 PVID Egress Untagged"
has "$(bridge vlan show dev veth1plkt-vi3)" "200 PVID Egress Untagged"
reaches kt-vi1 198.18.47.2 || fail "vlan 100 peers cut off"
reaches kt-vi4 198.18.47.3 || fail "vlan 200 peers cut off"
reaches kt-vi1 198.18.47.3 && fail "vlan 100 reached vlan 200"
reaches kt-vi3 198.18.47.2 && fail "vlan 200 reached vlan 100"
topo() { ip -o link show; bridge vlan show; for n in 1 2 3 4; do ip -4 -n kt-vi$n -o addr show; done; }
before=$(topo)
pipework run vlan_isolation --owner kt-vi switch=linux bridge=kt-vib prefix=kt-vi subnet=198.18.47.0/24 >/dev/null
[ "$before" = "$(topo)" ] || fail "a re-run changed the topology"
pw down kt-vi >/dev/null
ip link show kt-vib 2>/dev/null && fail "bridge left"
[ -z "$(ip netns list | grep kt-vi)" ] || fail "namespaces left"
