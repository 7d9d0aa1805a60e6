# A wireless interface moves between namespaces only with its whole phy (`iw phy PHY set netns`):
# --direct-phys hands the phy of a mac80211_hwsim radio to the guest, down gives it back, and the
# interface is called what it was called before.
. ./lib.sh
[ -e /sys/class/net/wlan0/phy80211 ] || fail "no hwsim radio wlan0 (mac80211_hwsim): $(ls /sys/class/net)"
phy=$(cat /sys/class/net/wlan0/phy80211/name)
ip netns add kt-w
pw --direct-phys wlan0 kt-w 198.18.50.2/24
ip link show wlan0 >/dev/null 2>&1 && fail "wlan0 is still in the host"
has "$(ip -n kt-w addr show eth1)" "198.18.50.2/24"
has "$(cat /sys/class/net/wlan1/phy80211/name)" "phy"
[ "$(ip netns exec kt-w cat /sys/class/net/eth1/phy80211/name)" = "$phy" ] || fail "the guest's eth1 is not $phy"
before=$(ip -n kt-w -d link show eth1)
pw --direct-phys wlan0 kt-w 198.18.50.2/24
[ "$before" = "$(ip -n kt-w -d link show eth1)" ] || fail "a re-run changed the guest's interface"
pw down kt-w
ip link show wlan0 >/dev/null 2>&1 || fail "wlan0 was not given back: $(ip -o link show)"
[ "$(cat /sys/class/net/wlan0/phy80211/name)" = "$phy" ] || fail "wlan0 came back without its phy $phy"
ip link show wlan0 | grep -q alias && fail "wlan0 still carries a marker"
ip netns exec kt-w ip link show eth1 >/dev/null 2>&1 && fail "eth1 left in the guest"
true
