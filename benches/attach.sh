#!/usr/bin/env bash
# Attach N named namespaces to one bridge (veth pair, guest end eth1 with address and default gateway,
# both ends up) with pipework and with two peers doing the same work in the same run:
#   iproute2 — `ip -batch` for everything it can batch (host side), `ip -n NS -batch` per guest;
#   CNI      — the reference bridge plugin with host-local IPAM, invoked per the CNI spec per attach.
# Namespaces are created before timing for every contestant; each contestant gets its own set and
# bridge, made just before its run and removed after it, so each runs alone. Prints ms per attach
# and ratios, then how each contestant's cost per attach grows from the smallest N to the largest:
# as run, and without the run's fixed cost (start-up, the bridge; measured with no guest), which at
# N=10 is a large share. N below 100 is run 5 times (REPS) and the median kept.
# Usage: benches/attach.sh [N ...]   (default: 10 100 1000)
#
# GUEST_IPV6=0 disables IPv6 inside every namespace during (untimed) set-up, for all contestants alike.
# On a large segment every guest's IPv6 link-local start-up (DAD, router solicitations, MLD) is
# flooded to every other port, so the kernel's work per attach grows with N whatever tool is used;
# this mode measures the tools without that traffic.
# ANNOUNCE=0 has pipework skip its gratuitous ARP per attach (`announce: false`): iproute2 sends none,
# and on a segment of N ports each announcement is flooded to every guest, work that grows with N.
set -euo pipefail
cd "$(dirname "$0")/.."
PW=${PIPEWORK:-$PWD/target/release/pipework}
CNI_DIR=/usr/lib/cni
# The binary users build (release profile, LTO on), unless PIPEWORK names another.
[ -n "${PIPEWORK:-}" ] || cargo build --release -q
if [ ! -x $CNI_DIR/bridge ] || ! command -v ip >/dev/null; then
  apt-get update -qq && apt-get install -y -qq containernetworking-plugins iproute2 >/dev/null
fi
[ $# -gt 0 ] || set -- 10 100 1000
WORK=$(mktemp -d /tmp/pipework-bench.XXXXXX)
# Namespace sets get a per-round letter: a namespace deleted in one round is torn down by the
# kernel asynchronously, and its veth ends must not collide with the next round's names.

cleanup() {
  ip netns list 2>/dev/null | awk '$1 ~ /^b[pqic][a-z][0-9]+$/ {print "netns del " $1}' > /tmp/pipework-bench-del.batch || true
  [ -s /tmp/pipework-bench-del.batch ] && ip -force -batch /tmp/pipework-bench-del.batch 2>/dev/null || true
  rm -f /tmp/pipework-bench-del.batch
  for b in bbpw bbpq bbip bbcni; do ip link del "$b" 2>/dev/null || true; done
  rm -rf /run/pipework/netns/bp* /run/pipework/netns/bq* "$WORK"
  # The bridges went by hand: pipework's records of their users go with its own sweep.
  "$PW" down --stale >/dev/null 2>&1 || true
}
# Namespace creation and deletion leave kernel work (RTNL-holding cleanup) running in the
# background; let it finish so it does not land on whichever contestant runs next.
# The kernel tears namespaces down in the background, holding RTNL, at about a millisecond each:
# after a round of 4 x 1000 of them that is seconds, which would land on the next round's first
# contestant. The default wait grows with the round's size.
settle() { sleep "${SETTLE:-$(( 1 + ${N:-0} / 200 ))}"; }
trap cleanup EXIT
cleanup; mkdir -p "$WORK"

now_us() { echo $(( $(date +%s%N) / 1000 )); }
ip_of() { echo "198.18.$(( $1 / 250 )).$(( $1 % 250 + 2 ))"; }

make_ns() { # set N
  : > "$WORK/ns.batch"
  for ((i = 0; i < $2; i++)); do echo "netns add $1$i" >> "$WORK/ns.batch"; done
  if [ "${GUEST_IPV6:-1}" = 0 ]; then
    for ((i = 0; i < $2; i++)); do echo "netns exec $1$i sysctl -qw net.ipv6.conf.default.disable_ipv6=1"; done >> "$WORK/ns.batch"
  fi
  ip -batch "$WORK/ns.batch"
}

verify() { # set index [address] — the guest end must exist with its address and gateway
  local ns=$1$2 want=${3:-$(ip_of "$2")} out
  # Output is captured before matching: `ip … | grep -q` under pipefail fails at random when grep
  # exits on the first line and ip, which writes line by line, dies of SIGPIPE on the next.
  out=$(ip -n "$ns" -o addr show dev eth1)
  grep -q "inet $want/16" <<<"$out" || { echo "FAIL: $ns lacks its address: $out" >&2; exit 1; }
  out=$(ip -n "$ns" route show default)
  grep -q "via 198.18.0.1 dev eth1" <<<"$out" || { echo "FAIL: $ns lacks its gateway: $out" >&2; exit 1; }
  out=$(ip -n "$ns" -o link show dev eth1)
  grep -q "state UP" <<<"$out" || { echo "FAIL: $ns eth1 is not up: $out" >&2; exit 1; }
}

# A running ovs-vswitchd answers every link change on the host by looking at the link under RTNL:
# a kernel profile of a 1000-guest run showed a fifth of its time spinning on that lock.
if pgrep -x ovs-vswitchd >/dev/null; then
  echo "note: ovs-vswitchd is running; it reacts to every new link and slows every contestant (stop it for figures comparable with the README's)"
fi
echo "guest IPv6: $([ "${GUEST_IPV6:-1}" = 0 ] && echo off || echo on); pipework announces: $([ "${ANNOUNCE:-1}" = 0 ] && echo no || echo yes)"
write_rhai() { # cleanup empties $WORK: written before each use
  cat > "$WORK/attach.rhai" <<'EOR'
let br = bridge("bbpw");
let n = parse_int(params.n);
for i in 0..n {
    veth(netns(`${params.set}${i}`), br, #{ ip: `198.18.${i / 250}.${i % 250 + 2}/16`, gateway: "198.18.0.1", announce: params.announce != "0" });
}
EOR
}
# What a run costs with no guest at all (start-up, the bridge): median of 5. Subtracted, it leaves
# the cost of the attaches themselves, whose growth with N is the question; at N=10 pipework's
# start-up alone is a third of its figure, which flatters its growth.
fixed_pw=() fixed_ip=()
for ((k = 0; k < 5; k++)); do
  write_rhai
  t0=$(now_us); "$PW" run "$WORK/attach.rhai" n=0 set=bpz announce=1 >/dev/null; fixed_pw+=($(( $(now_us) - t0 )))
  printf 'link add bbip type bridge\nlink set bbip up\n' > "$WORK/fixed.batch"
  t0=$(now_us); ip -batch "$WORK/fixed.batch"; fixed_ip+=($(( $(now_us) - t0 )))
  cleanup; mkdir -p "$WORK"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
fixed_pw=$(median "${fixed_pw[@]}") fixed_ip=$(median "${fixed_ip[@]}")
echo "fixed cost of a run with no guest (median of 5): pipework run $(( fixed_pw / 1000 )).$(( fixed_pw % 1000 / 100 )) ms, ip -batch $(( fixed_ip / 1000 )).$(( fixed_ip % 1000 / 100 )) ms"
printf '%-6s %-34s %10s %12s %10s\n' N contestant total_ms ms/attach vs_pipework
round=0 sets=0
declare -A first_tot=() last_tot=()
for N in "$@"; do
  round=$((round + 1))

  # Each contestant is a function; the order rotates from round to round, so none always runs
  # first (cold caches) or last (after the others' background kernel work).
  run_pw() { # pipework: one process, one script, N attaches.
    write_rhai
    t0=$(now_us); "$PW" run "$WORK/attach.rhai" n="$N" set="$P" announce="${ANNOUNCE:-1}" >/dev/null; t_pw=$(( $(now_us) - t0 ))
  }
  run_pq() { # pipework: one process per attach (what a shell loop calling the classic tool would do).
    t0=$(now_us)
    for ((i = 0; i < N; i++)); do
      "$PW" -e "veth(netns(\"$Q$i\"), bridge(\"bbpq\"), #{ip: \"$(ip_of $i)/16\", gateway: \"198.18.0.1\", announce: ${ANNOUNCE:-1} != 0})" >/dev/null
    done
    t_pq=$(( $(now_us) - t0 ))
  }
  run_ip() { # iproute2: host side in one batch, guest side one batch per namespace. Like pipework,
    # it turns off IPv6 address generation on the bridge ports before bringing them up.
    { echo "link add bbip type bridge"; echo "link set bbip up"
      for ((i = 0; i < N; i++)); do
        echo "link add v$I$i master bbip type veth peer name eth1 netns $I$i"
        echo "link set v$I$i addrgenmode none up"
      done
    } > "$WORK/host.batch"
    for ((i = 0; i < N; i++)); do
      printf 'link set eth1 up\naddr add %s/16 dev eth1\nroute add default via 198.18.0.1 dev eth1\n' "$(ip_of $i)" > "$WORK/g$i.batch"
    done
    t0=$(now_us)
    ip -batch "$WORK/host.batch"
    for ((i = 0; i < N; i++)); do ip -n "$I$i" -batch "$WORK/g$i.batch"; done
    t_ip=$(( $(now_us) - t0 ))
  }
  run_cni() { # CNI reference bridge plugin, host-local IPAM, one ADD per attach.
    cat > "$WORK/cni.json" <<EOC
{"cniVersion": "1.0.0", "name": "pwbench", "type": "bridge", "bridge": "bbcni", "isGateway": false,
 "ipMasq": false, "ipam": {"type": "host-local", "dataDir": "$WORK/ipam",
 "ranges": [[{"subnet": "198.18.0.0/16", "rangeStart": "198.18.0.2", "gateway": "198.18.0.1"}]],
 "routes": [{"dst": "0.0.0.0/0"}]}}
EOC
    t0=$(now_us)
    for ((i = 0; i < N; i++)); do
      CNI_COMMAND=ADD CNI_CONTAINERID="$C$i" CNI_NETNS="/run/netns/$C$i" CNI_IFNAME=eth1 CNI_PATH=$CNI_DIR \
        $CNI_DIR/bridge < "$WORK/cni.json" > "$WORK/cni.out" || { cat "$WORK/cni.out" >&2; exit 1; }
    done
    t_cni=$(( $(now_us) - t0 ))
  }
  # Everyone does the work, every guest of the set: its address, gateway and link up, its host
  # end a port of the set's bridge; and one ping across the bridge. host-local hands out
  # addresses in its own order, so for CNI any address of the range will do.
  any='198[.]18[.][0-9]*[.][0-9]*'
  verify_set() { # set bridge
    local set=$1 br=$2 ports i peer last
    ports=" $(ip -o link show master "$br" | awk -F': ' '{print $1}' | tr '\n' ' ')"
    for ((i = 0; i < N; i++)); do
      if [ "$set" = "$C" ]; then verify "$set" "$i" "$any"; else verify "$set" "$i"; fi
      peer=$(ip -n "$set$i" -o link show dev eth1 | sed -n 's/.*eth1@if\([0-9]*\):.*/\1/p')
      case "$ports" in *" $peer "*) ;; *) echo "FAIL: $set$i's host end (ifindex $peer) is not a port of $br" >&2; exit 1;; esac
    done
    last=$(ip -n "$set$((N - 1))" -o -4 addr show dev eth1 | awk '{print $4}' | cut -d/ -f1)
    [ "$N" -lt 2 ] || ip netns exec "${set}0" ping -c 1 -W 2 "$last" >/dev/null || { echo "FAIL: $set: guest 0 does not reach $last across $br" >&2; exit 1; }
  }
  # Each contestant alone on the machine with its own N namespaces, made (untimed) just before
  # its run and removed after it: another contestant's thousands of namespaces and ports would
  # make the kernel slower for whoever runs next (its per-namespace and per-port work grows
  # with what exists), and growth with N is what this measures.
  # A small N is over in milliseconds, where one scheduling hiccup is a large share: it is run
  # several times (each time with fresh names) and the median kept.
  reps=${REPS:-$(( N < 100 ? 5 : 1 ))}
  contestants=(run_pw run_pq run_ip run_cni)
  declare -A took=()
  for ((rep = 0; rep < reps; rep++)); do
    r=$(printf "\\$(printf '%03o' $((97 + sets)))"); sets=$((sets + 1))
    P=bp$r Q=bq$r I=bi$r C=bc$r
    declare -A set_of=([run_pw]="$P bbpw" [run_pq]="$Q bbpq" [run_ip]="$I bbip" [run_cni]="$C bbcni")
    for ((k = 0; k < 4; k++)); do
      c=${contestants[$(( (k + round + rep - 1) % 4 ))]}
      read -r set br <<<"${set_of[$c]}"
      make_ns "$set" "$N"
      settle
      $c
      verify_set "$set" "$br"
      cleanup; mkdir -p "$WORK"
      settle
      t=t_${c#run_}; took[$c]+=" ${!t}"
    done
  done
  echo "round $round: $reps run(s) of each, the order rotating; median kept"
  t_pw=$(median ${took[run_pw]}) t_pq=$(median ${took[run_pq]}) t_ip=$(median ${took[run_ip]}) t_cni=$(median ${took[run_cni]})

  row() { awk -v n="$N" -v name="$1" -v t="$2" -v pw="$t_pw" 'BEGIN {
    printf "%-6d %-34s %10.1f %12.3f %9.2fx\n", n, name, t / 1000, t / n / 1000, (pw > 0 ? t / pw : 0) }'; }
  row "pipework run (1 process)" "$t_pw"
  row "pipework -e (1 process/attach)" "$t_pq"
  row "iproute2 ip -batch + ip -n" "$t_ip"
  row "CNI bridge + host-local" "$t_cni"
  for c in pw pq ip cni; do
    t=t_$c
    [ -n "${first_tot[$c]:-}" ] || first_tot[$c]=${!t}
    last_tot[$c]=${!t}
  done
  # The headline: a process per attach, as an orchestrator or a shell loop calls either tool.
  awk -v n="$N" -v pq="$t_pq" -v cni="$t_cni" 'BEGIN {
    printf "headline N=%d: a process per attach, pipework -e %.2f ms vs CNI bridge %.2f ms: CNI takes %.2fx\n", n, pq / n / 1000, cni / n / 1000, (pq > 0 ? cni / pq : 0) }'
done

# Growth: ms per attach at the largest N over the smallest, each contestant beside the others.
growth() { # contestant fixed_us — ms per attach at the smallest and the largest N, the run's fixed cost out
  awk -v name="$1" -v a="${first_tot[$1]}" -v b="${last_tot[$1]}" -v f="$2" -v n1="$first_n" -v n2="$last_n" 'BEGIN {
    x = (a - f) / n1 / 1000; y = (b - f) / n2 / 1000
    printf "  %-4s %8.3f -> %8.3f  x%.2f  (%+.3f ms)\n", name, x, y, (x > 0 ? y / x : 0), y - x }'
}
if [ $# -gt 1 ]; then
  first_n=$1 last_n=${!#}
  echo "growth, N=$first_n -> N=$last_n (ms per attach; the ratio):"
  for c in pw pq ip cni; do growth "$c" 0; done
  echo "the same without the run's fixed cost (the attaches alone):"
  growth pw "$fixed_pw"
  growth ip "$fixed_ip"
fi

# Start-up latency of a one-liner (target < 20 ms).
best=999999
for _ in 1 2 3 4 5 6 7 8 9 10; do
  t0=$(date +%s%N); "$PW" -e '1+1' >/dev/null; t=$(( ($(date +%s%N) - t0) / 1000 ))
  [ $t -lt $best ] && best=$t
done
printf "pipework -e '1+1': best of 10 = %d.%03d ms\n" $((best / 1000)) $((best % 1000))
