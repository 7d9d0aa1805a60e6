# tc(link, #{}) restores the default qdisc; replacing twice converges.
. ./lib.sh
pw -e '
let br = bridge("kt-brc");
let a = veth(netns("kt-ca"), br, #{ip: "198.18.29.2/24"});
veth(netns("kt-cb"), br, #{ip: "198.18.29.3/24"});
tc(a.link, #{delay: "200ms", jitter: "10ms"});
tc(a.link, #{delay: "200ms", jitter: "10ms"});
'
has "$(tc -n kt-ca qdisc show dev eth1)" "netem"
pw -e 'tc(link(netns("kt-ca"), "eth1"), #{})'
q=$(tc -n kt-ca qdisc show dev eth1)
if echo "$q" | grep -q netem; then fail "netem still there: $q"; fi
r=$(rtt kt-ca 198.18.29.3)
[ "$r" -lt 150 ] || fail "RTT still $r ms after clearing"
pw -e 'tc(link(netns("kt-ca"), "eth1"), #{})'
pw -e 'down()'
