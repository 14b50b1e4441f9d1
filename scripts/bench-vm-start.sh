#!/usr/bin/env bash
# Benchmark (prints figures, asserts nothing): time from `kubectl apply` of a VM on the tiny guest
# to Running and to AgentReady through the platform, against the baseline of the very same QEMU
# command line started by hand until its guest agent answers.
#   scripts/bench-vm-start.sh [RUNS]      (after `cargo build --release`)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-3}
DVPD=$ROOT/target/release/dvpd
D8=$ROOT/target/release/d8
export GUEST_IMAGES_CACHE=${GUEST_IMAGES_CACHE:-/var/cache/guest-images}
"$ROOT/../shared/guest-images/build-tiny.sh" >/dev/null
W=$(mktemp -d -t vm-bench.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port); HP=$(free_port)
mkdir -p "$W/www" "$W/home"; cp "$GUEST_IMAGES_CACHE/tiny/tiny.qcow2" "$W/www/"
(cd "$W/www" && exec python3 -m http.server "$HP" --bind 127.0.0.1 >/dev/null 2>&1) & HPID=$!
"$DVPD" up --data-dir "$W/data" --listen "127.0.0.1:$PORT" >"$W/dvpd.log" 2>&1 & DPID=$!
trap 'kill $HPID $DPID 2>/dev/null; wait $DPID 2>/dev/null; pkill -f "$W" 2>/dev/null; rm -rf "$W"' EXIT
export KUBECONFIG=$W/data/kubeconfig HOME=$W/home
until curl -sk -o /dev/null "https://127.0.0.1:$PORT/readyz"; do sleep 0.2; done
k() { kubectl "$@"; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata:\n  name: tiny\nspec:\n  storage: ContainerRegistry\n  dataSource:\n    type: HTTP\n    http:\n      url: http://127.0.0.1:%s/tiny.qcow2\n' "$HP" | k apply -f - >/dev/null
k wait --for=jsonpath='{.status.phase}'=Ready vi/tiny --timeout=180s >/dev/null
qga_ping() {  # qga_ping SOCKET: succeeds once the guest agent answers guest-ping
  python3 - "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2)
try:
    s.connect(sys.argv[1]); s.sendall(b'{"execute":"guest-ping"}\n')
    sys.exit(0 if b'"return"' in s.recv(4096) else 1)
except Exception:
    sys.exit(1)
PY
}
echo "# vm start benchmark: tiny guest, accel $(k get nodes -o jsonpath='{.items[0].metadata.labels.node\.dvp\.io/accel}'), $RUNS runs"
for i in $(seq 1 "$RUNS"); do
  printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: b%s\nspec:\n  dataSource:\n    type: ObjectRef\n    objectRef:\n      kind: VirtualImage\n      name: tiny\n' "$i" | k apply -f - >/dev/null
  k wait --for=jsonpath='{.status.phase}'=Ready "vd/b$i" --timeout=60s >/dev/null
  t0=$(now)
  printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachine\nmetadata:\n  name: b%s\nspec:\n  virtualMachineClassName: generic\n  cpu:\n    cores: 1\n    coreFraction: 100%%\n  memory:\n    size: 256Mi\n  blockDeviceRefs:\n    - kind: VirtualDisk\n      name: b%s\n' "$i" "$i" | k apply -f - >/dev/null
  k wait --for=jsonpath='{.status.phase}'=Running "vm/b$i" --timeout=240s >/dev/null; running=$(since "$t0")
  k wait --for=condition=AgentReady "vm/b$i" --timeout=240s >/dev/null; agent=$(since "$t0")
  uid=$(k get vm "b$i" -o jsonpath='{.metadata.uid}')
  pid=$(pgrep -f "qemu-system.*$uid" | head -1)
  mapfile -d '' argv <"/proc/$pid/cmdline"
  qga=$(tr '\0' '\n' <"/proc/$pid/cmdline" | grep -o 'path=[^,]*qga[^,]*' | head -1 | cut -d= -f2)
  saved=$W/saved-$i; cp -a "$(dirname "$qga")" "$saved"
  "$D8" v stop "b$i" -w -y >/dev/null
  while kill -0 "$pid" 2>/dev/null && [ -e "/proc/$pid/cmdline" ] && [ -s "/proc/$pid/cmdline" ]; do sleep 0.2; done
  rm -rf "$(dirname "$qga")"; cp -a "$saved" "$(dirname "$qga")"; rm -f "$(dirname "$qga")"/*.sock
  t1=$(now)
  "${argv[@]}" >"$W/raw-$i.log" 2>&1 & raw=$!
  until qga_ping "$qga"; do sleep 0.2; done; baseline=$(since "$t1")
  kill "$raw"; wait "$raw" 2>/dev/null || true
  echo "run $i: platform apply->Running ${running}s, apply->AgentReady ${agent}s; raw QEMU same argv -> agent ${baseline}s; ratio $(python3 -c "print(f'{$baseline/$agent:.2f}')") (baseline/platform)"
  k delete vm "b$i" --wait=true --timeout=120s >/dev/null
done
