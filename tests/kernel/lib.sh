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
# vlan_lan NS NEAR FAR VID:CIDR… — a stand-in NIC: NEAR in the host, its veth peer FAR in a new "LAN"
# namespace NS, up, with an 802.1Q sub-interface FAR.VID holding CIDR for each VLAN given; the LAN
# answers ARP only on the interface that holds the address, so one VLAN never answers for another.
vlan_lan() {
  ns=$1 near=$2 far=$3; shift 3
  ip netns add "$ns"
  ip link add "$near" type veth peer name "$far"
  ip link set "$far" netns "$ns"
  ip -n "$ns" link set "$far" up
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1
  for vc in "$@"; do
    v=${vc%%:*}
    ip -n "$ns" link add link "$far" name "$far.$v" type vlan id "$v"
    ip -n "$ns" addr add "${vc#*:}" dev "$far.$v"
    ip -n "$ns" link set "$far.$v" up
  done
}
