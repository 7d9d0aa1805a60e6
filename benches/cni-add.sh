#!/usr/bin/env bash
# CNI ADD latency: pipework as a CNI plugin against the reference `bridge` plugin, in the same run
# and on the same config shape (a Linux bridge, addresses from the reference host-local IPAM), each
# plugin run as a runtime runs it (exec, CNI_* variables, config on stdin) for N fresh namespaces.
# Also timed: host-local alone, which both plugins run inside their ADD. Prints ms per ADD and the
# ratio. No isGateway: the reference plugin would then turn on the host's IP forwarding.
# Usage: benches/cni-add.sh [N]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
PW=${PIPEWORK:-$PWD/target/release/pipework}
[ -n "${PIPEWORK:-}" ] || cargo build --release -q
N=${1:-30}
REF=/usr/lib/cni
[ -x $REF/bridge ] || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins >/dev/null; }
tmp=$(mktemp -d)
conf() { # NAME TYPE BRIDGE SUBNET
  printf '{"cniVersion":"1.0.0","name":"%s","type":"%s","bridge":"%s","ipam":{"type":"host-local","subnet":"%s","dataDir":"%s"}}' \
    "$1" "$2" "$3" "$4" "$tmp/ipam"
}
conf bench-cni-pw pipework cnibpw 198.18.92.0/24 > "$tmp/pw.json"
conf bench-cni-ref bridge cnibref 198.18.93.0/24 > "$tmp/ref.json"
conf bench-cni-ipam bridge unused 198.18.94.0/24 > "$tmp/ipam.json"
mkdir -p "$tmp/bin"; ln -s "$PW" "$tmp/bin/pipework"; ln -s $REF/bridge "$tmp/bin/bridge"
export CNI_PATH=$REF CNI_IFNAME=eth0
del_all() { # PLUGIN CONF PREFIX
  for ((i = 0; i < N; i++)); do
    CNI_COMMAND=DEL CNI_CONTAINERID="$3$i" CNI_NETNS=/run/netns/$3$i "$1" < "$2" >/dev/null 2>&1 || true
  done
}
cleanup() {
  del_all "$tmp/bin/pipework" "$tmp/pw.json" cbp
  del_all "$tmp/bin/bridge" "$tmp/ref.json" cbr
  for s in cbp cbr; do for ((i = 0; i < N; i++)); do ip netns del "$s$i" 2>/dev/null || true; done; done
  ip link del cnibref 2>/dev/null || true
  ip link del cnibpw 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for s in cbp cbr; do for ((i = 0; i < N; i++)); do ip netns add "$s$i"; done; done
now_us() { date +%s%6N; }
add_range() { # PLUGIN CONF PREFIX FROM TO: microseconds taken
  local t0 t1
  t0=$(now_us)
  for ((i = $4; i < $5; i++)); do
    CNI_COMMAND=ADD CNI_CONTAINERID="$3$i" CNI_NETNS=/run/netns/$3$i "$1" < "$2" > /dev/null
  done
  t1=$(now_us)
  echo $((t1 - t0))
}
# host-local alone, the same N times (its own pool): what both pay inside ADD.
t0=$(now_us)
for ((i = 0; i < N; i++)); do CNI_COMMAND=ADD CNI_CONTAINERID="cbi$i" CNI_NETNS=/run/netns/cbp0 $REF/host-local < "$tmp/ipam.json" > /dev/null; done
ipam=$(( $(now_us) - t0 ))
# Alternate who goes first, half the containers each way round, so neither owns the warm caches.
half=$((N / 2))
pw=$(add_range "$tmp/bin/pipework" "$tmp/pw.json" cbp 0 $half)
ref=$(add_range "$tmp/bin/bridge" "$tmp/ref.json" cbr 0 $half)
ref=$((ref + $(add_range "$tmp/bin/bridge" "$tmp/ref.json" cbr $half "$N")))
pw=$((pw + $(add_range "$tmp/bin/pipework" "$tmp/pw.json" cbp $half "$N")))
# Both did the same work: N ports on their bridge, each container addressed.
for b in cnibpw cnibref; do
  n=$(ip -o link show master $b | wc -l)
  [ "$n" = "$N" ] || { echo "FAIL: $b has $n ports, not $N" >&2; exit 1; }
done
ip -n cbp$((N - 1)) -4 -o addr show eth0 | grep -q 198.18.92. || { echo "FAIL: pipework's guest has no address" >&2; exit 1; }
awk -v p="$pw" -v r="$ref" -v i="$ipam" -v N="$N" 'BEGIN {
  printf "CNI ADD, %d containers onto a Linux bridge, host-local IPAM (ms per ADD)\n", N
  printf "  host-local alone (inside both): %6.2f\n", i/N/1000
  printf "  reference bridge plugin:        %6.2f\n  pipework:                       %6.2f\n", r/N/1000, p/N/1000
  printf "  pipework / reference:           %6.2f   (without host-local: %.2f)\n", p/r, (p-i)/(r-i) }'
