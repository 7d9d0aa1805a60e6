#!/usr/bin/env bash
# Build the test tier's CNI runtime (client/main.go) on the CNI project's libcni from Debian's packaged
# Go sources: offline, in GOPATH mode, about a second. Installs the toolchain and the reference
# plugins (host-local, bandwidth) when missing. Usage: build-client.sh OUT-BINARY
set -euo pipefail
out=$(realpath -m "${1:?usage: build-client.sh OUT-BINARY}")
need=()
for p in golang-go golang-github-appc-cni-dev containernetworking-plugins; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$(dirname "$0")/client/main.go" "$tmp/"
cd "$tmp"
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tmp/cache" go build -o "$out" main.go
