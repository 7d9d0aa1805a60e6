# A real NIC (the VM's virtio-net, on a qemu hub with no other port: nothing leaves the VM) handed to
# a guest that then dies: the kernel returns it to the host under the guest's name for it (eth1),
# and down gives it back under its own name, unmarked, with nothing else touched.
. ./lib.sh
nic=
for d in /sys/class/net/*; do [ -e "$d/device" ] && { nic=${d##*/}; break; }; done
[ -n "$nic" ] || fail "the VM has no NIC (virtio-net on a one-port hub)"
[ "$nic" != eth1 ] || fail "the NIC is already called eth1: the case needs another name"
ip netns add kt-dpr
pw --direct-phys "$nic" kt-dpr 198.18.49.2/24
ip link show "$nic" >/dev/null 2>&1 && fail "$nic is still in the host"
has "$(ip -n kt-dpr addr show eth1)" "198.18.49.2/24"
ip netns del kt-dpr
# The namespace goes asynchronously; its physical devices come home as they were named there.
i=0; while ! ip link show eth1 >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
has "$(ip link show eth1)" "eth1"
pw down kt-dpr
ip link show "$nic" >/dev/null 2>&1 || fail "not given back as $nic: $(ip -o link show)"
ip link show eth1 >/dev/null 2>&1 && fail "eth1 is still there beside $nic"
ip link show "$nic" | grep -q alias && fail "$nic still carries a marker: $(ip link show "$nic")"
ip addr show "$nic" | grep -q 198.18.49.2 && fail "$nic came back with the guest's address"
true
