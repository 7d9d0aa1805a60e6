#!/usr/bin/env bash
# N VLAN-tagged OVS ports into named namespaces on an existing OVS bridge (userspace datapath),
# pipework against the same work done by hand in the same run: per guest, `ip link add … netns`,
# the guest end addressed and up, the host end up, then `ovs-vsctl add-port … tag=`, in a shell
# loop. Prints ms per port and the ratio. Usage: benches/ovs-ports.sh [N]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
PW=${PIPEWORK:-$PWD/target/release/pipework}
# The binary users build (release profile, LTO on), unless PIPEWORK names another.
[ -n "${PIPEWORK:-}" ] || cargo build --release -q
N=${1:-30}
tests/ovs/setup.sh >/dev/null
cleanup() {
  for s in op os; do
    for ((i = 0; i < N; i++)); do ip netns del "$s$i" 2>/dev/null || true; done
  done
  ovs-vsctl --if-exists del-br ovsbpw -- --if-exists del-br ovsbsh
  "$PW" down bench-ovs >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
for s in op os; do for ((i = 0; i < N; i++)); do ip netns add "$s$i"; done; done
for b in ovsbpw ovsbsh; do ovs-vsctl add-br $b -- set bridge $b datapath_type=netdev; done
sleep 1
now_ms() { date +%s%3N; }

t0=$(now_ms)
"$PW" -e "owner(\"bench-ovs\"); let b = ovs(\"ovsbpw\"); for i in 0..$N { veth(netns(\`op\${i}\`), b, #{vlan: 100 + i % 2, ip: \`198.18.90.\${i + 2}/24\`}); }"
t1=$(now_ms)
for ((i = 0; i < N; i++)); do
  ip link add "vsh$i" type veth peer name eth1 netns "os$i"
  ip -n "os$i" addr add "198.18.91.$((i + 2))/24" dev eth1
  ip -n "os$i" link set eth1 up
  ip link set "vsh$i" up
  ovs-vsctl add-port ovsbsh "vsh$i" tag=$((100 + i % 2))
done
t2=$(now_ms)
# Both did the same work: N ports, tagged alike.
for b in ovsbpw ovsbsh; do
  n=$(ovs-vsctl list-ports $b | wc -l)
  [ "$n" = "$N" ] || { echo "FAIL: $b has $n ports, not $N" >&2; exit 1; }
done
[ "$(ovs-vsctl get Port veth1plop1 tag)" = 101 ] || { echo "FAIL: pipework's port is not tagged" >&2; exit 1; }
awk -v p=$((t1 - t0)) -v s=$((t2 - t1)) -v N="$N" 'BEGIN {
  printf "%d tagged OVS ports on an existing bridge (ms per port)\n", N
  printf "  ip + ovs-vsctl, shell loop: %7.1f\n  pipework, one script:       %7.1f\n  pipework / script:          %7.2f\n", s/N, p/N, p/s }'
