# Self-test of the tier: a true expectation passes.
. ./lib.sh
pw -e 'dummy(netns("kt-st"), "dum0", #{ip: "198.18.50.1/24"})'
has "$(ip -n kt-st addr show dum0)" "198.18.50.1/24"
