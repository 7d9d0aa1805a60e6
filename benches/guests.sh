#!/usr/bin/env bash
# N guests made from nothing, on one bridge: a named namespace each, a veth pair with the guest end
# eth1 born inside it, an address on eth1, both ends up. Four contestants in the same run, the
# order alternating from round to round:
#   pipework      — one `pipework run` of a script that loops netns() + veth(), as users run it:
#                   with its gratuitous ARP per guest (flooded to every port of the bridge);
#   pipework, no ARP — the same with `announce: false`, the work the peers do;
#   ip -batch     — iproute2's link part only, in one process: netns add, the pair born in the
#                   namespace with its host end on the bridge and up (no address, guest end down);
#   iproute2      — the whole work as a shell script would do it: that batch, then `ip -n NS addr
#                   add` and `ip -n NS link set eth1 up` per guest.
# Prints ms per guest and the ratios, then what one pipework attach costs in netlink requests and
# threads, and peak memory (`strace -f -c`, `/usr/bin/time`).
# Usage: benches/guests.sh [N] [ROUNDS]   (default 200 3)
set -euo pipefail
cd "$(dirname "$0")/.."
PW=${PIPEWORK:-$PWD/target/release/pipework}
[ -n "${PIPEWORK:-}" ] || cargo build --release -q
need=()
command -v strace >/dev/null || need+=(strace)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
N=${1:-200}
ROUNDS=${2:-3}
WORK=$(mktemp -d /tmp/pipework-guests.XXXXXX)

cleanup() {
  ip netns list 2>/dev/null | awk '$1 ~ /^g[pbsq][a-z][0-9]+$/ {print "netns del " $1}' > "$WORK/del.batch" || true
  [ -s "$WORK/del.batch" ] && ip -force -batch "$WORK/del.batch" 2>/dev/null || true
  for b in bgpw bgpq bgb bgs; do ip link del "$b" 2>/dev/null || true; done
  "$PW" down --stale >/dev/null 2>&1 || true
  # A deleted namespace's devices go in the kernel's own time: the next run must not meet the host
  # ends of this one's (pipework would rightly refuse a name that is still taken).
  local t=0
  while ip -o link show 2>/dev/null | grep -qE ': (veth1plg[pbsq][a-z][0-9]+|vg[pbs][a-z][0-9]+)@'; do
    (( t++ < 600 )) || { echo "guests.sh: host ends still there after 30 s" >&2; return 1; }
    sleep 0.05
  done
}
trap 'cleanup; rm -rf "$WORK"' EXIT
# Namespace deletion leaves RTNL-holding kernel work running in the background: let it finish
# before the next contestant starts.
settle() { sleep "${SETTLE:-2}"; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }
ip_of() { echo "198.18.$(( $1 / 250 )).$(( $1 % 250 + 2 ))"; }
cleanup

# A running ovs-vswitchd answers every link change on the host by looking at the link under RTNL:
# a kernel profile of a 1000-guest run showed a fifth of its time spinning on that lock.
if pgrep -x ovs-vswitchd >/dev/null; then
  echo "note: ovs-vswitchd is running; it reacts to every new link and slows every contestant (stop it for figures comparable with the README's)"
fi
cat > "$WORK/guests.rhai" <<'EOR'
let br = bridge(params.br);
let n = parse_int(params.n);
for i in 0..n {
    veth(netns(`${params.set}${i}`), br, #{ ip: `198.18.${i / 250}.${i % 250 + 2}/16`, announce: params.announce != "0" });
}
EOR

host_batch() { # set bridge — the link part
  echo "link add $2 type bridge"; echo "link set $2 up"
  for ((i = 0; i < N; i++)); do
    echo "netns add $1$i"
    echo "link add v$1$i master $2 up type veth peer name eth1 netns $1$i"
  done
}

verify() { # set bridge addressed — every guest: eth1 a port's peer, with its address and up
  local set=$1 br=$2 ports i out
  ports=" $(ip -o link show master "$br" | awk -F': ' '{print $1}' | tr '\n' ' ')"
  [ "$(wc -w <<<"$ports")" -eq "$N" ] || { echo "FAIL: $br has $(wc -w <<<"$ports") ports, not $N" >&2; exit 1; }
  [ "$3" = yes ] || return 0
  for ((i = 0; i < N; i++)); do
    out=$(ip -n "$set$i" -o addr show dev eth1)
    grep -q "inet $(ip_of "$i")/16" <<<"$out" || { echo "FAIL: $set$i lacks its address: $out" >&2; exit 1; }
    out=$(ip -n "$set$i" -o link show dev eth1)
    grep -q "state UP" <<<"$out" || { echo "FAIL: $set$i eth1 is not up: $out" >&2; exit 1; }
  done
  ip netns exec "${set}0" ping -c 1 -W 2 "$(ip_of $((N - 1)))" >/dev/null \
    || { echo "FAIL: ${set}0 does not reach the last guest across $br" >&2; exit 1; }
}

declare -A total=([pw]=0 [pwq]=0 [batch]=0 [script]=0)
run_pipework() { # key set bridge announce
  local t0; t0=$(now_us)
  "$PW" run "$WORK/guests.rhai" n="$N" set="$2$r" br="$3" announce="$4" >/dev/null
  total[$1]=$(( total[$1] + $(now_us) - t0 ))
  verify "$2$r" "$3" yes
}
run_pw() { run_pipework pw gp bgpw 1; }
# The same without pipework's gratuitous ARP per guest, which no peer sends.
run_pwq() { run_pipework pwq gq bgpq 0; }
run_batch() {
  host_batch "gb$r" bgb > "$WORK/b.batch"
  local t0; t0=$(now_us)
  ip -batch "$WORK/b.batch"
  total[batch]=$(( total[batch] + $(now_us) - t0 ))
  verify "gb$r" bgb no
}
run_script() {
  host_batch "gs$r" bgs > "$WORK/s.batch"
  local t0 i; t0=$(now_us)
  ip -batch "$WORK/s.batch"
  for ((i = 0; i < N; i++)); do
    ip -n "gs$r$i" addr add "$(ip_of "$i")/16" dev eth1
    ip -n "gs$r$i" link set eth1 up
  done
  total[script]=$(( total[script] + $(now_us) - t0 ))
  verify "gs$r" bgs yes
}

contestants=(run_pw run_pwq run_batch run_script)
for ((k = 0; k < ROUNDS; k++)); do
  r=$(printf "\\$(printf '%03o' $((97 + k)))")
  for ((j = 0; j < 4; j++)); do
    c=${contestants[$(( (j + k) % 4 ))]}
    settle; $c; cleanup
  done
done

per() { awk -v t="$1" -v n="$N" -v k="$ROUNDS" 'BEGIN { printf "%.3f", t / n / k / 1000 }'; }
echo "N=$N guests, $ROUNDS rounds, order rotating"
printf '%-44s %12s %14s %14s\n' contestant ms/guest pipework_vs "no-ARP_vs"
printf '%-44s %12s %14s %14s\n' "pipework run (netns + veth + address + up)" "$(per "${total[pw]}")" "-" "-"
printf '%-44s %12s %14s %14s\n' "the same, announce: false (no ARP)" "$(per "${total[pwq]}")" "-" "-"
awk -v p="${total[pw]}" -v q="${total[pwq]}" -v b="${total[batch]}" -v s="${total[script]}" -v n="$N" -v k="$ROUNDS" 'BEGIN {
  printf "%-44s %12.3f %13.2fx %13.2fx\n", "ip -batch, link part only", b / n / k / 1000, p / b, q / b
  printf "%-44s %12.3f %13.2fx %13.2fx\n", "iproute2 script (batch + 2 ip -n per guest)", s / n / k / 1000, p / s, q / s }'

# What one attach costs the process: netlink requests and threads, from one more traced run.
settle
strace -f -c -o "$WORK/strace" -e trace=sendto,sendmsg,clone,clone3 \
  "$PW" run "$WORK/guests.rhai" n="$N" set=gpz br=bgpw announce=1 >/dev/null
# strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall.
awk -v n="$N" '$NF == "sendto" || $NF == "sendmsg" { req += $4 } $NF == "clone3" || $NF == "clone" { th += $4 }
  END { printf "per attach: %.1f netlink requests (sendto), %.2f threads created\n", req / n, th / n }' "$WORK/strace"
cleanup; settle
/usr/bin/time -f "%M" -o "$WORK/rss" "$PW" run "$WORK/guests.rhai" n="$N" set=gpz br=bgpw announce=1 >/dev/null
echo "peak RSS: $(cat "$WORK/rss") KB for $N guests in one run"
/usr/bin/time -f "%M" -o "$WORK/rss1" "$PW" -e '1+1' >/dev/null
echo "peak RSS: $(cat "$WORK/rss1") KB for pipework -e '1+1'"
