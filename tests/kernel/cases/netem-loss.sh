# 100% loss cuts traffic; the qdisc says so.
. ./lib.sh
pw -e '
let br = bridge("kt-brl");
let a = veth(netns("kt-la"), br, #{ip: "198.18.30.2/24"});
veth(netns("kt-lb"), br, #{ip: "198.18.30.3/24"});
if !ping(a.guest, "198.18.30.3") { throw "no baseline reachability"; }
tc(a.link, #{loss: 100});
'
has "$(tc -n kt-la qdisc show dev eth1)" "loss 100%"
if reaches kt-la 198.18.30.3; then fail "traffic passed 100% loss"; fi
pw -e 'down()'
