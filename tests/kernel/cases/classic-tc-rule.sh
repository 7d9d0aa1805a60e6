# Classic `pipework tc` and `pipework rule` passthrough run inside the guest (netem exists here).
. ./lib.sh
ip netns add kt-cta; ip netns add kt-ctb
pipework brkt kt-cta 198.18.44.2/24
pipework brkt kt-ctb 198.18.44.3/24
base=$(rtt kt-cta 198.18.44.3)
pipework tc kt-cta qdisc add dev eth1 root netem delay 150ms
slow=$(rtt kt-cta 198.18.44.3)
[ "$slow" -ge 150 ] || fail "RTT $slow ms after classic tc delay 150ms (baseline $base)"
pipework tc kt-cta qdisc del dev eth1 root
if tc -n kt-cta qdisc show dev eth1 | grep -q netem; then fail "netem not removed"; fi
pipework rule kt-cta add from 198.18.44.0/24 table 100 priority 100
has "$(ip -n kt-cta rule show)" "from 198.18.44.0/24 lookup 100"
pw -e 'down("kt-cta"); down("kt-ctb")'
