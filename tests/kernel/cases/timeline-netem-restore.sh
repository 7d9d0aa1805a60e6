# After a run with a ramp, the link's qdisc is what it was before (here: the kernel's default); a
# netem of the user's that was there before comes back as it was.
. ./lib.sh
pw -e '
let br = bridge("kt-brs");
veth(netns("kt-sa"), br, #{ip: "198.18.30.2/24"});
'
pw -e 'ramp(link(netns("kt-sa"), "eth1"), #{from: #{delay: "5ms"}, to: #{delay: "25ms"}, over: "200ms", steps: 2})' 2> /tmp/ramp.err
has "$(cat /tmp/ramp.err)" "back to the default"
tc -n kt-sa qdisc show dev eth1 | grep -q netem && fail "netem left after the run: $(tc -n kt-sa qdisc show dev eth1)"
pw -e 'tc(link(netns("kt-sa"), "eth1"), #{delay: "7ms"})'
pw -e 'ramp(link(netns("kt-sa"), "eth1"), #{from: #{delay: "5ms"}, to: #{delay: "25ms"}, over: "200ms", steps: 2})' 2> /tmp/ramp.err
has "$(cat /tmp/ramp.err)" "back to what it was"
has "$(tc -n kt-sa qdisc show dev eth1)" "delay 7ms"
pw -e 'down()'
