# down(owner) also finds what we created inside namespaces we did not create.
. ./lib.sh
ip netns add kt-foreign
pw -e 'owner("ktf"); dummy(netns("kt-foreign"), "dum9"); vlan(link(netns("kt-foreign"), "dum9"), 9)'
ip -n kt-foreign link show dum9.9 >/dev/null || fail "vlan missing"
pw -e 'down("ktf")'
ip netns list | grep -q kt-foreign || fail "a namespace we did not create was deleted"
if ip -n kt-foreign link show dum9 >/dev/null 2>&1; then fail "dummy not removed"; fi
