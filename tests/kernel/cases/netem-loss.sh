# 100% loss cuts traffic; the qdisc says so.
. ./lib.sh
pw -e '
let br = bridge("kt-brl");
veth(netns("kt-la"), br, #{ip: "198.18.30.2/24"});
veth(netns("kt-lb"), br, #{ip: "198.18.30.3/24"});
' >/dev/null
# The control, by busybox ping: the target is there and answers before the loss.
reaches kt-la 198.18.30.3 || fail "no baseline reachability"
pw -e 'tc(link(netns("kt-la"), "eth1"), #{loss: 100})' >/dev/null
has "$(tc -n kt-la qdisc show dev eth1)" "loss 100%"
if reaches kt-la 198.18.30.3; then fail "traffic passed 100% loss"; fi
pw -e 'down()'
