#!/usr/bin/env bash
# The whole test suite, on a fresh machine, as root. Installs what it needs, builds once, then runs:
# formatting and lint gates, unit tests, the host tier (real namespaces, veth, bridges), the container
# tier (a real dockerd with locally built busybox containers), the Open vSwitch tier, the CNI tier
# (libcni and podman as the runtimes), CLI tests,
# the full-kernel tier under qemu (tests/kernel), a benchmark smoke run against the peers, and a leak check (every namespace or bridge the suite made
# must be gone afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# Knobs of the kernel tier and the binary under test, left in a developer's shell, would silently
# point the suite at other cases or another binary: CI runs what is in the tree.
unset KT_CASES KT_CASE_TIMEOUT KT_TIMEOUT PIPEWORK
[ "$(id -u)" = 0 ] || { echo "run as root: the host tier creates namespaces, veth pairs and bridges" >&2; exit 1; }

# A DHCP client or a bad experiment must never leave this machine without a resolver: snapshot it.
resolv_backup=$(mktemp /tmp/resolv.conf.XXXXXX)
cp -a /etc/resolv.conf "$resolv_backup" 2>/dev/null || true
# A changed host resolver is a failure of the suite (something wrote where it must never write),
# not a warning: the file is put back, and the suite exits 1 whatever else passed.
resolv_changed=
restore_resolv() {
  if [ -s "$resolv_backup" ] && ! cmp -s "$resolv_backup" /etc/resolv.conf; then
    echo "FAIL: /etc/resolv.conf changed during the tests (restored); a DHCP client reached the host's resolver" >&2
    cat "$resolv_backup" > /etc/resolv.conf
    resolv_changed=1
  fi
  rm -f "$resolv_backup"
}
trap 'restore_resolv; [ -z "$resolv_changed" ] || exit 1' EXIT

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
# CNI tier: the CNI project's libcni, built from Debian's Go sources (tests/cni/build-client.sh).
dpkg -s golang-go >/dev/null 2>&1 || need+=(golang-go)
dpkg -s golang-github-appc-cni-dev >/dev/null 2>&1 || need+=(golang-github-appc-cni-dev)
# DHCP tier: dnsmasq serves leases in a test namespace; udhcpc and dhclient are the classic clients.
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
# udhcpc needs a busybox; ask for the static one in the same breath (the kernel tier and the container
# image need it static), so apt does not install the dynamic one only to replace it later.
command -v udhcpc >/dev/null || need+=(udhcpc busybox-static)
command -v dhclient >/dev/null || need+=(isc-dhcp-client)
command -v dhcpcd >/dev/null || need+=(dhcpcd-base)
# Announcements (gratuitous ARP) are checked by capture on the bridge and on other ports.
command -v tcpdump >/dev/null || need+=(tcpdump)
# htb class rates are checked by transfers between namespaces.
command -v iperf3 >/dev/null || need+=(iperf3)
# `pipework plot … -o x.png` draws its text with the machine's fonts.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi


state() {
  { ip netns list 2>/dev/null | awk '{print "netns " $1}'
    ip -o link show type bridge 2>/dev/null | awk -F': ' '{print "bridge " $2}'
    docker ps -a --format 'container {{.Names}}' 2>/dev/null || true
    command -v podman >/dev/null && podman ps -a --format 'podman {{.Names}}' 2>/dev/null || true
    ls /etc/netns 2>/dev/null | sed 's/^/etc-netns /' || true
    ls /run/pipework/dhcp 2>/dev/null | sed 's/^/dhcp-state /' || true
    # Crash-safety state: unfinished journals, bridge user registrations, namespace records.
    for d in journal bridges netns joined; do ls -A "/run/pipework/$d" 2>/dev/null | sed "s/^/pipework-$d /" || true; done
    [ -S /var/run/openvswitch/db.sock ] && ovs-vsctl --timeout=5 list-br 2>/dev/null | sed 's/^/ovs-bridge /' || true
    # Anything else carrying our marker: host links (veth host ends, macvlan, dummy), OVS rows,
    # watch records, and the processes we leave running (lease keepers, DHCP clients).
    ip -o link show 2>/dev/null | awk '/ alias pipework/ {sub(/@.*/, "", $2); print "pipework-link " $2}'
    [ -S /var/run/openvswitch/db.sock ] && ovs-vsctl --timeout=5 --bare --columns=name find Interface 'external_ids:pipework.owner!=""' 2>/dev/null | sed '/^$/d; s/^/ovs-interface /' || true
    ls -A /var/lib/pipework/containers 2>/dev/null | sed 's/^/watch-record /' || true
    for p in /proc/[0-9]*; do
      c=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
      case "$c" in *__dhcp-keep*|*__dhcp-warden*|*/run/pipework/dhcp/*) echo "process ${c%% --pidfile*}";; esac
    done; } | sort
}

# The final look must see: a daemon that died during the suite would hide its leftovers.
daemons_answer() {
  docker info >/dev/null 2>&1 || { echo "LEAK CHECK BLIND: dockerd is not answering" >&2; exit 1; }
  ovs-vsctl --timeout=5 show >/dev/null 2>&1 || { echo "LEAK CHECK BLIND: Open vSwitch is not answering" >&2; exit 1; }
}
before=$(state)

# Built without the release profile's LTO: linked whole-program, each of the dozen test binaries
# costs a minute or more, and LTO changes how soon the binary starts, not what it does (benches/
# build the LTO binary they measure).
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --all-targets -- -D warnings
echo "== build"
cargo build --release --all-targets
echo "== static build (for --wait inside minimal container images)"
RUSTFLAGS="-C target-feature=+crt-static -C strip=symbols" cargo build --release --target x86_64-unknown-linux-gnu
# The emulated kernel tier runs before dockerd starts: under TCG every busy core counts.
echo "== kernel tier (qemu, Debian kernel: 8021q, dummy, netem, vlan_filtering …)"
tests/kernel/run.sh
echo "== kernel tier self-test: wrong expectations, a failing .rhai, a hang, a crash and a VM time-out must fail the tier"
# Each run must fail, and must say why it failed (so it failed for that reason).
kt_must_fail() { # LOG EXPECTED-REGEX ENV...
  local log=$1 want=$2; shift 2
  if env "$@" tests/kernel/run.sh > "$log" 2>&1; then
    cat "$log" >&2; echo "kernel tier self-test ($*): the tier passed" >&2; exit 1
  fi
  grep -qE "$want" "$log" || { cat "$log" >&2; echo "kernel tier self-test ($*): no /$want/" >&2; exit 1; }
}
kt_must_fail /tmp/pipework-kt-selftest.log '^1 passed, 3 failed$' KT_CASES=tests/kernel/selftest KT_CASE_TIMEOUT=5
for c in wrong-expectation.sh wrong.rhai hangs.sh; do
  grep -q "^FAIL $c (exit" /tmp/pipework-kt-selftest.log || { cat /tmp/pipework-kt-selftest.log >&2; exit 1; }
done
kt_must_fail /tmp/pipework-kt-selftest-crash.log 'the kernel crashed' KT_CASES=tests/kernel/selftest-crash
grep -q '^1 passed, 0 failed$' /tmp/pipework-kt-selftest-crash.log || { cat /tmp/pipework-kt-selftest-crash.log >&2; exit 1; }
kt_must_fail /tmp/pipework-kt-selftest-hang.log 'TIME-OUT after' KT_CASES=tests/kernel/selftest-hang KT_CASE_TIMEOUT=600 KT_TIMEOUT=45
echo "kernel tier self-test: each of them failed the tier, for its reason"
echo "== container runtime: dockerd and a local busybox image"
tests/docker/setup.sh
echo "== podman (rootful, beside dockerd: containers are looked up in both)"
tests/podman/setup.sh
echo "== Open vSwitch (userspace datapath)"
tests/ovs/setup.sh
# Stop what this run started, also on failure.
stop_services() {
  restore_resolv
  if [ -f /tmp/pipework-dockerd.pid ]; then kill "$(cat /tmp/pipework-dockerd.pid)" 2>/dev/null; rm -f /tmp/pipework-dockerd.pid; fi
  if [ -f /tmp/pipework-ovs.started ]; then /usr/share/openvswitch/scripts/ovs-ctl stop >/dev/null 2>&1; rm -f /tmp/pipework-ovs.started; fi
  [ -z "$resolv_changed" ] || exit 1
}
trap stop_services EXIT
echo "== tests (unit, host tier, DHCP tier, container tier, OVS tier, CNI tier, classic argv, CLI)"
cargo test --release -- --test-threads="${TEST_THREADS:-4}" --skip watch_
# The watch tier prints what it measured (wiring back after a restart, host side gone after rm);
# its tests run one at a time anyway (one of them restarts dockerd).
echo "== watch tier (pipework watch against dockerd and OVS; measurements)"
cargo test --release --test watch_tier -- --nocapture 2>&1 | tee /tmp/pipework-watch-tier.log | grep -E "^(docker|dhcp|udhcpc|dockerd|adopted)|test result|panicked|FAILED" || true
grep -q "test result: ok. 3 passed" /tmp/pipework-watch-tier.log || { cat /tmp/pipework-watch-tier.log >&2; echo "watch tier failed" >&2; exit 1; }
echo "== benchmark smoke run (N=10; 10 guests from nothing; 5 OVS ports; 10 CNI ADDs)"
SETTLE=0 benches/attach.sh 10
SETTLE=0 benches/guests.sh 10 1
benches/ovs-ports.sh 5
benches/cni-add.sh 10

# A journal left now is a killed run nobody finished: a leak, whatever else the sweep below drops.
journals=$(ls -A /run/pipework/journal 2>/dev/null || true)
if [ -n "$journals" ]; then
  echo "LEAK: unfinished intent journals (a killed run never taken down): $journals" >&2
  exit 1
fi
# Tests and benchmarks also delete bridges and namespaces by hand, behind pipework's back; its own
# sweep drops its records of those (what it says is shown), and anything still left is a leak.
target/release/pipework down --stale 2>&1 | sed 's/^/stale sweep: /' | tail -5
daemons_answer
after=$(state)
leaked=$(comm -13 <(echo "$before") <(echo "$after") || true)
if [ -n "$leaked" ]; then
  echo "LEAK: the suite left these behind:" >&2
  echo "$leaked" >&2
  exit 1
fi
echo "== all tiers passed; nothing left behind"
