# Self-test of the tier: a deliberately wrong expectation (the address pipework set is NOT there)
# must be reported as a failure, and the tier must exit non-zero.
. ./lib.sh
pw -e 'dummy(netns("kt-st2"), "dum0", #{ip: "198.18.51.1/24"})'
has "$(ip -n kt-st2 addr show dum0)" "198.18.99.99/24"
