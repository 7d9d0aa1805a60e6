# Rate limiting through netem is encoded and accepted.
. ./lib.sh
pw -e 'let a = veth(netns("kt-ra"), bridge("kt-brr"), #{ip: "198.18.31.2/24"}); tc(a.link, #{rate: "10mbit", delay: "5ms"})'
q=$(tc -n kt-ra qdisc show dev eth1)
has "$q" "rate 10Mbit"
has "$q" "delay 5"
pw -e 'down()'
