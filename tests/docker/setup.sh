#!/usr/bin/env bash
# Brings up what the container tier needs, on a fresh machine too: Docker from Debian's packages, a
# dockerd configured for these machines (no iptables, no default bridge, vfs storage), and a busybox
# image built locally (no registry is reachable). Idempotent; prints the dockerd PID it started, if any.
set -euo pipefail
if ! command -v dockerd >/dev/null || [ ! -x /bin/busybox ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  /usr/sbin/dockerd --iptables=false --ip-masq=false --bridge=none --storage-driver=vfs \
    > /tmp/pipework-dockerd.log 2>&1 &
  echo "$!" > /tmp/pipework-dockerd.pid
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { tail -20 /tmp/pipework-dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }
fi
if ! docker image inspect pipework-busybox >/dev/null 2>&1; then
  dir=$(mktemp -d)
  mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp"
  cp /bin/busybox "$dir/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$dir/bin/$a"; done
  tar -C "$dir" -c . | docker import - pipework-busybox >/dev/null
  rm -rf "$dir"
fi
