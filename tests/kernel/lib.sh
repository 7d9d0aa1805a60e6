# Sourced by every shell case. Cases run inside the VM as root with pipework, iproute2 and busybox.
set -eu
# busybox's shell prefers its own applets over PATH; the real iproute2 tools are called by path.
ip() { /usr/sbin/ip "$@"; }
tc() { /usr/sbin/tc "$@"; }
bridge() { /usr/sbin/bridge "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# pw ARGS… — run pipework, show what it said on failure.
pw() { pipework "$@"; }
# expect_fail PATTERN ARGS… — pipework must fail and say PATTERN.
expect_fail() {
  pat=$1; shift
  if out=$(pipework "$@" 2>&1); then fail "expected failure, got success: $out"; fi
  echo "$out" | grep -q -- "$pat" || fail "expected '$pat' in: $out"
}
# rtt NS IP — average ping RTT in whole milliseconds (busybox ping), or fail.
rtt() {
  out=$(ip netns exec "$1" ping -c 3 -i 0.2 -W 2 "$2" 2>&1) || fail "no reply from $2 in $1: $out"
  echo "$out" | sed -n 's/.*min\/avg\/max = [0-9.]*\/\([0-9]*\)\..*/\1/p'
}
reaches() { ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }
has() { echo "$1" | grep -q -- "$2" || fail "expected '$2' in: $1"; }
