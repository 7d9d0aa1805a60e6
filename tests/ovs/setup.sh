#!/usr/bin/env bash
# Open vSwitch for the host tier, on a fresh machine too: Debian's openvswitch-switch, started with
# ovs-ctl. This kernel has no openvswitch module, so pipework uses the userspace (netdev) datapath.
set -euo pipefail
if ! command -v ovs-vsctl >/dev/null || [ ! -x /usr/share/openvswitch/scripts/ovs-ctl ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openvswitch-switch >/dev/null
fi
if ! ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
  mkdir -p /var/run/openvswitch
  /usr/share/openvswitch/scripts/ovs-ctl --no-monitor --system-id=random start >/tmp/pipework-ovs.log 2>&1 \
    || { cat /tmp/pipework-ovs.log >&2; exit 1; }
  touch /tmp/pipework-ovs.started
fi
ovs-vsctl --timeout=5 show >/dev/null
