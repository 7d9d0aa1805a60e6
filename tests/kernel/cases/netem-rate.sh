# Rate limiting through netem is encoded and accepted; netem's `limit` and tbf's `latency` from Rhai
# read back by tc itself (an independent witness).
. ./lib.sh
pw -e 'let a = veth(netns("kt-ra"), bridge("kt-brr"), #{ip: "198.18.31.2/24"}); tc(a.link, #{rate: "10mbit", delay: "5ms", limit: 300})'
q=$(tc -n kt-ra qdisc show dev eth1)
has "$q" "rate 10Mbit"
has "$q" "delay 5"
has "$q" "limit 300"
pw -e 'tc(link(netns("kt-ra"), "eth1"), #{rate: "1mbit", latency: "40ms"})'
q=$(tc -n kt-ra qdisc show dev eth1)
has "$q" "tbf"
has "$q" "lat 40"
pw -e 'down()'
