#!/usr/bin/env bash
# podman for the container tier: Debian's podman (rootful, vfs storage), a busybox image built
# locally (no registry is reachable), and a runtime wrapper for these sandboxed machines, which
# refuse setrlimit inside runc while podman always asks for rlimits: the wrapper removes them from
# the OCI spec runc is given. Idempotent. Containers: podman run --runtime "$PODMAN_RUNTIME" …
set -euo pipefail
if ! command -v podman >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman containernetworking-plugins busybox-static >/dev/null
fi
mkdir -p /etc/containers
[ -f /etc/containers/storage.conf ] || printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' > /etc/containers/storage.conf
[ -f /etc/containers/containers.conf ] || printf '[network]\nnetwork_backend = "cni"\n' > /etc/containers/containers.conf
wrapper=/usr/local/sbin/pipework-test-runc
cat > "$wrapper" <<'EOW'
#!/usr/bin/env python3
# runc, minus process rlimits (this sandbox refuses setrlimit): strips them from the bundle's
# config.json (`create --bundle DIR`) or the process file (`exec --process FILE`), then runs runc.
import json, os, sys
args = sys.argv[1:]
def strip(path, nested):
    with open(path) as f:
        spec = json.load(f)
    (spec.get("process", {}) if nested else spec).pop("rlimits", None)
    with open(path, "w") as f:
        json.dump(spec, f)
for flag, nested in (("--bundle", True), ("--process", False)):
    if flag in args[:-1]:
        p = args[args.index(flag) + 1]
        p = os.path.join(p, "config.json") if nested else p
        if os.path.isfile(p):
            strip(p, nested)
os.execv("/usr/bin/runc", ["runc"] + args)
EOW
chmod +x "$wrapper"
if ! podman image exists localhost/pipework-busybox; then
  dir=$(mktemp -d)
  mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/proc" "$dir/sys" "$dir/dev"
  cp /bin/busybox "$dir/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$dir/bin/$a"; done
  tar -C "$dir" -c . | podman import - localhost/pipework-busybox >/dev/null
  rm -rf "$dir"
fi
