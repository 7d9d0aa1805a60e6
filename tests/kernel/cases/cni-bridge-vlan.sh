# CNI: networks with a `vlan` on one Linux bridge. The first ADD makes the bridge VLAN-filtering, each
# port's PVID is its network's VLAN, and containers meet only within their VLAN; the bridge stays while
# any network still uses it and goes with the last DEL.
. ./lib.sh
dir=/tmp/kt-cni; mkdir -p $dir
# A stand-in IPAM plugin (the VM has no reference plugins): ADD answers with the address its config names.
cat > $dir/ktipam <<'EOF'
#!/bin/sh
conf=$(cat)
[ "$CNI_COMMAND" = ADD ] || exit 0
addr=$(echo "$conf" | sed -n 's/.*"address":"\([^"]*\)".*/\1/p')
echo "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"$addr\"}]}"
EOF
chmod +x $dir/ktipam
conf() { printf '{"cniVersion":"1.0.0","name":"kt%s","type":"pipework","bridge":"ktcni0","vlan":%s,"ipam":{"type":"ktipam","address":"%s"}}' "$1" "$1" "$2"; }
cni() { # VERB NS VLAN ADDRESS
  conf "$3" "$4" | CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$2 CNI_IFNAME=eth0 CNI_PATH=$dir pipework
}
for c in kta:10:198.18.47.2/24 ktb:10:198.18.47.3/24 ktc:20:198.18.47.4/24; do
  IFS=: read n v a <<EOF
$c
EOF
  ip netns add $n
  out=$(cni ADD $n $v $a) || fail "ADD $n: $out"
  has "$out" "\"address\":\"$a\""
done
has "$(ip -d link show ktcni0)" "vlan_filtering 1"
host_a=$(ip -o link show master ktcni0 | grep kta | sed 's/^[0-9]*: \([^@:]*\).*/\1/')
[ -n "$host_a" ] || fail "no host end of kta on ktcni0: $(ip -o link show master ktcni0)"
has "$(bridge vlan show dev "$host_a")" "10 PVID"
reaches kta 198.18.47.3 || fail "two containers of VLAN 10 do not meet"
reaches kta 198.18.47.4 && fail "VLAN 10 reached VLAN 20"
cni DEL kta 10 198.18.47.2/24 >/dev/null || fail "DEL kta"
ip link show ktcni0 >/dev/null 2>&1 || fail "the bridge went while others still use it"
cni DEL ktb 10 198.18.47.3/24 >/dev/null || fail "DEL ktb"
cni DEL ktc 20 198.18.47.4/24 >/dev/null || fail "DEL ktc"
ip link show ktcni0 >/dev/null 2>&1 && fail "the bridge stayed after its last network left"
for n in kta ktb ktc; do ip netns del $n; done
rm -rf $dir
