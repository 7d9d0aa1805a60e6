#!/usr/bin/env bash
# Classic attach into running Docker containers: pipework vs the original pipework script, same
# machine, same run. The original is not part of this repository; point ORIGINAL at a local copy:
#   ORIGINAL=/path/to/pipework benches/classic-vs-original.sh [N]     (default N=5)
# Each tool attaches N fresh busybox containers (--net=none) to its own bridge with
# `<bridge> <container> <ip>/24@<gateway>` — the canonical form — and the mean per attach is printed.
# KIND=ovs: the bridges are Open vSwitch bridges (made beforehand, userspace datapath, for both
# tools alike: the original's `ovs-vsctl add-br` asks for the kernel datapath this machine lacks),
# and each attach adds a port tagged @VLAN (`… <ip>/24@<gateway> @10`).
set -euo pipefail
cd "$(dirname "$0")/.."
PW=${PIPEWORK:-$PWD/target/release/pipework}
N=${1:-5}
# The binary users build (release profile, LTO on), unless PIPEWORK names another.
[ -n "${PIPEWORK:-}" ] || cargo build --release -q
[ -n "${ORIGINAL:-}" ] && [ -x "$ORIGINAL" ] || { echo "set ORIGINAL to a local copy of the original pipework script" >&2; exit 2; }
KIND=${KIND:-linux}
case $KIND in
  linux) BO=brpwbo BN=brpwbn TAG=() ;;
  ovs) BO=ovspwbo BN=ovspwbn TAG=(@10); tests/ovs/setup.sh ;;
  *) echo "KIND is linux or ovs" >&2; exit 2 ;;
esac
tests/docker/setup.sh
command -v arping >/dev/null || { apt-get update -qq; apt-get install -y -qq iputils-arping >/dev/null; }
# The original's DHCP modes can rewrite the host resolver; these runs use static addresses, but keep
# a copy anyway.
cp -a /etc/resolv.conf /tmp/pipework-bench-resolv.conf
cleanup() {
  for t in o n; do for ((i = 0; i < N; i++)); do docker rm -f "pwbench$t$i" >/dev/null 2>&1 || true; done; done
  if [ "$KIND" = ovs ]; then
    for b in $BO $BN; do ovs-vsctl --if-exists del-br "$b"; done
  else
    ip link del $BO 2>/dev/null || true; ip link del $BN 2>/dev/null || true
  fi
  "$PW" down --stale >/dev/null 2>&1 || true  # pipework's records of the bridge it no longer has
  cmp -s /tmp/pipework-bench-resolv.conf /etc/resolv.conf || cat /tmp/pipework-bench-resolv.conf > /etc/resolv.conf
}
trap cleanup EXIT
cleanup
if [ "$KIND" = ovs ]; then
  for b in $BO $BN; do ovs-vsctl add-br "$b" -- set bridge "$b" datapath_type=netdev; done
fi
for t in o n; do for ((i = 0; i < N; i++)); do
  docker run -d --net=none --name "pwbench$t$i" pipework-busybox /bin/sleep 600 >/dev/null
done; done
run() { # tool bridge set
  local t0 t1
  t0=$(date +%s%N)
  for ((i = 0; i < N; i++)); do "$1" "$2" "pwbench$3$i" "198.18.$((100 + i)).2/24@198.18.$((100 + i)).1" "${TAG[@]}" >/dev/null; done
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / N / 1000 ))
}
orig=$(run "$ORIGINAL" $BO o)
ours=$(run "$PW" $BN n)
# What the loop itself costs per command (bash forks and execs a program that does nothing): part
# of both figures above, shown so the tool's own time can be read off.
loop=$(run /bin/true x x)
# Both must have done the same work, in every container: its address, its default route, and
# its host end a port of its tool's bridge.
for t in o n; do
  if [ $t = o ]; then br=$BO; else br=$BN; fi
  for ((i = 0; i < N; i++)); do
    c="pwbench$t$i"
    # Captured before matching: grep -q in a pipefail pipeline races SIGPIPE.
    addrs=$(docker exec "$c" ip -o addr show dev eth1)
    grep -q "inet 198.18.$((100 + i)).2/24" <<<"$addrs" || { echo "FAIL: $c ($t) lacks its address: $addrs" >&2; exit 1; }
    routes=$(docker exec "$c" ip route)
    grep -q "default via 198.18.$((100 + i)).1 dev eth1" <<<"$routes" || { echo "FAIL: $c ($t) lacks its gateway: $routes" >&2; exit 1; }
    peer=$(docker exec "$c" cat /sys/class/net/eth1/iflink)
    host=$(ip -o link show | awk -F': ' -v p="$peer" '$1 == p {print $2}')
    if [ "$KIND" = ovs ]; then
      tag=$(ovs-vsctl get port "${host%%@*}" tag)
      [ "$(ovs-vsctl port-to-br "${host%%@*}")" = "$br" ] && [ "$tag" = 10 ] \
        || { echo "FAIL: $c's host end ($host) is not a port of $br with tag 10 (tag $tag)" >&2; exit 1; }
    else
      ports=$(ip -o link show master "$br")
      grep -q ": ${host%%@*}[@:]" <<<"$ports" || { echo "FAIL: $c's host end ($host) is not a port of $br" >&2; exit 1; }
    fi
  done
done
awk -v o="$orig" -v n="$ours" -v l="$loop" -v N="$N" -v kind="$KIND" 'BEGIN {
  printf "classic attach into a Docker container, %s bridge (N=%d, mean per attach)\n", kind, N
  printf "  original pipework: %8.1f ms\n  pipework (Rust):   %8.1f ms\n  speed-up:          %8.0fx\n", o/1000, n/1000, o/n
  printf "  (the loop starting /bin/true instead: %.1f ms per command, in both figures)\n", l/1000 }'
# Since watch first ran here, every run also writes the containers' watch records (docs/watch.md).
if [ -d /var/lib/pipework/containers ]; then
  echo "  watch records: kept on this machine (each attach also reads its container's wiring back)"
else
  echo "  watch records: not kept on this machine (watch never ran here)"
fi
