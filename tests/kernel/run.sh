#!/usr/bin/env bash
# Full-kernel test tier: boots Debian's kernel under qemu (TCG, no KVM needed) with the modules the host
# kernel lacks (8021q, dummy, ipvlan, netem, bridge vlan_filtering …), runs every case in
# tests/kernel/cases inside that one VM, prints one line per case and `N passed, N failed`, and exits
# non-zero on any failure, a boot problem or a time-out.
#
#   tests/kernel/run.sh                 build the initramfs from target/release/pipework and run
#   KT_CASES=DIR tests/kernel/run.sh    run the cases in DIR instead (tests/kernel/selftest*: a wrong
#                                       expectation, a failing .rhai, a hang, a kernel crash after the
#                                       summary and a VM time-out each fail the tier; run-all checks)
#   KT_CASE_TIMEOUT=S (default 60) per case, KT_TIMEOUT=S (default 240) for the whole VM
# The kernel package is cached in $KT_CACHE (default /var/cache/pipework-kernel-tier).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT_DIR=$PWD
PW=${PIPEWORK:-$ROOT_DIR/target/release/pipework}
CACHE=${KT_CACHE:-/var/cache/pipework-kernel-tier}
TIMEOUT=${KT_TIMEOUT:-240}
[ -x "$PW" ] || { echo "kernel tier: build first (cargo build --release)" >&2; exit 1; }

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
command -v depmod >/dev/null || need+=(kmod)
# The VM has no libraries but the ones we copy: busybox must be the static build.
{ [ -x /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic'; } || need+=(busybox-static)
command -v ip >/dev/null || need+=(iproute2)
# A wireless interface is handed over with its phy through iw (direct-phys-wireless.sh).
[ -x /usr/sbin/iw ] || need+=(iw)
if [ ${#need[@]} -gt 0 ]; then
  echo "kernel tier: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$CACHE"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'); fi
[ -n "$pkg" ] || { echo "kernel tier: cannot find Debian's kernel package" >&2; exit 1; }
deb=$(ls "$CACHE/${pkg}"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  echo "kernel tier: downloading $pkg (cached in $CACHE)"
  (cd "$CACHE" && apt-get download "$pkg" >/dev/null)
  deb=$(ls "$CACHE/${pkg}"_*.deb | head -1)
fi
kdir="$CACHE/${pkg}"
if [ ! -d "$kdir/lib/modules" ] && [ ! -d "$kdir/usr/lib/modules" ]; then
  rm -rf "$kdir"; mkdir -p "$kdir"; dpkg-deb -x "$deb" "$kdir"
fi
moddir=$(find "$kdir/lib/modules" "$kdir/usr/lib/modules" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -1 || true)
[ -n "$moddir" ] || { echo "kernel tier: no modules in $deb" >&2; exit 1; }
KV=$(basename "$moddir")
modbase=${moddir%/lib/modules/$KV}
[ -f "$moddir/modules.dep" ] || depmod -b "$modbase" "$KV"
vmlinuz="$kdir/boot/vmlinuz-$KV"

work=$(mktemp -d /tmp/pipework-kt.XXXXXX)
trap 'rm -rf "$work"' EXIT
r="$work/root"
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,cases,lib/modules/$KV}
cp /bin/busybox "$r/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
# ip_gre, ip6_gre: GRE tunnels (the host lacks them); virtio_net: the VM's one NIC, a stand-in for a
# physical one (--direct-phys); mac80211_hwsim: two software radios, for handing a wireless phy over.
MODULES="8021q dummy ipvlan macvlan sch_netem sch_tbf sch_htb bridge veth vxlan ip_gre ip6_gre virtio_net mac80211_hwsim"
for m in $MODULES; do
  modprobe -d "$modbase" -S "$KV" --show-depends "$m" | awk '$1 == "insmod" {print $2}' | while read -r f; do
    rel=${f#"$modbase"}; mkdir -p "$r$(dirname "$rel")"; cp "$f" "$r$rel"
  done
done
cp "$moddir"/modules.* "$r/lib/modules/$KV/"

# Real binaries replace busybox applets of the same name (remove the symlink first, or cp would
# write through it into busybox itself).
copy_bin() { # src dest-dir
  local name; name=$(basename "$1")
  rm -f "$r/bin/$name" "$r/sbin/$name" "$r/usr/bin/$name" "$r/usr/sbin/$name"
  cp "$1" "$r$2/"
  for l in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do mkdir -p "$r$(dirname "$l")"; cp -L "$l" "$r$l"; done
}
copy_bin "$PW" /usr/bin
# Symbols are useless in the VM and only cost page faults under emulation.
strip --strip-all "$r/usr/bin/pipework" 2>/dev/null || true
for b in ip tc bridge iw; do copy_bin "$(command -v $b)" /usr/sbin; done
cp tests/kernel/lib.sh "$r/cases/lib.sh"
CASES=${KT_CASES:-tests/kernel/cases}
cp "$CASES"/* "$r/cases/"
mkdir -p "$r/scripts"; cp scripts/*.rhai "$r/scripts/"
echo "$MODULES" > "$r/etc/kt-modules"
echo "${KT_CASE_TIMEOUT:-60}" > "$r/etc/kt-case-timeout"
cp tests/kernel/init "$r/init"; chmod +x "$r/init"
(cd "$r" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

echo "kernel tier: booting $KV with $(ls "$CASES" | wc -l) cases from $CASES"
start=$(date +%s)
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1 loglevel=3" -nographic -m 768 -no-reboot -accel tcg \
  -netdev hubport,id=kt0,hubid=0 -device virtio-net-pci,netdev=kt0 > "$work/console.log" 2>&1
rc=$?
set -e
cp "$work/console.log" /tmp/pipework-kt-console.log 2>/dev/null || true
elapsed=$(( $(date +%s) - start ))
tr -d '\r' < "$work/console.log" | grep -E '^(KT|  )' | grep -vx 'KT end' | sed 's/^KT //' || true
summary=$(tr -d '\r' < "$work/console.log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1 || true)
echo "kernel tier: boot and run took ${elapsed}s"
if [ $rc -eq 124 ]; then echo "kernel tier: TIME-OUT after ${TIMEOUT}s" >&2; tail -20 "$work/console.log" >&2; exit 1; fi
if [ $rc -ne 0 ]; then echo "kernel tier: qemu exited with status $rc" >&2; tail -20 "$work/console.log" >&2; exit 1; fi
if [ -z "$summary" ]; then echo "kernel tier: no summary line (boot failure?)" >&2; tail -30 "$work/console.log" >&2; exit 1; fi
echo "$summary"
# A kernel that died at any point (also after the summary) or a VM that did not reach its own
# orderly end is a failure, whatever the cases said.
if tr -d '\r' < "$work/console.log" | grep -qE 'Kernel panic|BUG: |Oops: '; then
  echo "kernel tier: the kernel crashed:" >&2
  tr -d '\r' < "$work/console.log" | grep -E -A5 'Kernel panic|BUG: |Oops: ' | head -30 >&2
  exit 1
fi
if ! tr -d '\r' < "$work/console.log" | grep -qx 'KT end'; then
  echo "kernel tier: the VM did not reach its end after the summary" >&2; tail -20 "$work/console.log" >&2; exit 1
fi
case "$summary" in *" 0 failed") exit 0 ;; *) exit 1 ;; esac
