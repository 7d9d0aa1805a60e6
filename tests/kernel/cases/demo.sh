# The README's main job runs on a full kernel too and leaves nothing behind.
. ./lib.sh
out=$(pipework run /scripts/demo.rhai)
has "$out" "ping web -> db and db -> web: ok"
[ -z "$(ip netns list)" ] || fail "namespaces left: $(ip netns list)"
if ip link show br-demo >/dev/null 2>&1; then fail "bridge left"; fi
