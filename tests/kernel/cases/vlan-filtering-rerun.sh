# Re-running a VLAN attach converges without changes; turning filtering on later works.
. ./lib.sh
pw -e 'bridge("kt-brg")'
pw -e 'bridge("kt-brg", #{vlan_filtering: true})'
has "$(ip -d link show kt-brg)" "vlan_filtering 1"
for i in 1 2; do
  pw -e 'veth(netns("kt-ga"), bridge("kt-brg", #{vlan_filtering: true}), #{ip: "198.18.35.2/24", vlan: 30}).created' > /tmp/created$i
done
[ "$(cat /tmp/created1)" = true ] && [ "$(cat /tmp/created2)" = false ] || fail "created: $(cat /tmp/created1) $(cat /tmp/created2)"
has "$(bridge vlan show dev veth1plkt-ga)" "30 PVID Egress Untagged"
pw -e 'down()'
