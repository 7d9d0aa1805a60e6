# `pipework down A B` takes several owners at once; `down --all` every owner anything of ours is
# marked for — and only that: a bridge and a namespace made by hand stay. (In the VM: --all on a
# shared test machine would take other tests' objects too.)
. ./lib.sh
ip netns add kt-hand
ip link add kt-handbr type bridge
for o in kt-da kt-db kt-dc; do
  pw -e "owner(\"$o\"); veth(netns(\"$o-g\"), bridge(\"$o-br\"), #{ip: \"198.18.60.2/24\"})" >/dev/null
done
out=$(pw down kt-da kt-db)
has "$out" "kt-da: removed links:"
has "$out" "kt-db: removed netns: kt-db-g"
ip link show kt-da-br 2>/dev/null && fail "kt-da's bridge left"
ip link show kt-dc-br >/dev/null || fail "kt-dc was not named but lost its bridge"
pw -e 'owner("kt-dd"); dummy(netns("kt-dd-g"), "dum0", #{ip: "198.18.61.2/24"})' >/dev/null
out=$(pw down --all)
has "$out" "kt-dc: removed"
has "$out" "kt-dd: removed netns: kt-dd-g"
[ -z "$(ip netns list | grep '^kt-d')" ] || fail "namespaces of ours left: $(ip netns list)"
ip link show kt-dc-br 2>/dev/null && fail "kt-dc's bridge left"
ip netns list | grep -q '^kt-hand' || fail "down --all took a namespace made by hand"
ip link show kt-handbr >/dev/null || fail "down --all took a bridge made by hand"
[ -z "$(pw down --all)" ] || fail "a second --all found more"
# A step that fails does not stop the others: lo, marked by hand, cannot be deleted; down says so,
# exits non-zero, and still removes the owner's bridge, port and namespace.
pw -e 'owner("kt-de"); veth(netns("kt-de-g"), bridge("kt-de-br"), #{ip: "198.18.62.2/24"})' >/dev/null
ip link set lo alias "pipework owner=kt-de"
if out=$(pipework down kt-de 2>&1); then fail "down reported success although lo could not go: $out"; fi
has "$out" "kt-de: delete link lo"
ip link show kt-de-br 2>/dev/null && fail "stopped at the first error: bridge left"
ip netns list | grep -q '^kt-de-g' && fail "stopped at the first error: namespace left"
ip link set lo alias ""
ip netns del kt-hand; ip link del kt-handbr
