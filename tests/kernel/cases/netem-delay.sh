# tc() netem delay shows up in ping RTT between two namespaces.
. ./lib.sh
pw -e '
let br = bridge("kt-brn");
veth(netns("kt-na"), br, #{ip: "198.18.28.2/24"});
veth(netns("kt-nb"), br, #{ip: "198.18.28.3/24"});
'
base=$(rtt kt-na 198.18.28.3)
pw -e 'tc(link(netns("kt-na"), "eth1"), #{delay: "150ms"})'
has "$(tc -n kt-na qdisc show dev eth1)" "netem"
has "$(tc -n kt-na qdisc show dev eth1)" "delay 150"
slow=$(rtt kt-na 198.18.28.3)
[ "$slow" -ge 150 ] || fail "RTT $slow ms with 150 ms delay (baseline $base ms)"
[ "$slow" -ge $((base + 120)) ] || fail "delay not visible: $base -> $slow ms"
echo "rtt $base ms -> $slow ms"
pw -e 'down()'
