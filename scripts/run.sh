#!/usr/bin/env bash
# Install what is missing, build, start `dvpd up` in the background and print how to use it.
#   scripts/run.sh [--data-dir DIR] [--listen ADDR:PORT]
source "$(dirname "$0")/lib.sh"
DATA=$(default_data_dir); LISTEN=127.0.0.1:6443
while [ $# -gt 0 ]; do
  case $1 in
    --data-dir) DATA=$2; shift 2 ;;
    --listen) LISTEN=$2; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
ensure_base
cd "$ROOT"
log "building (release)"
cargo build --release -q -p dvpd -p dvp-cli
BIN=$ROOT/target/release
if [ "$(id -u)" -eq 0 ]; then ln -sf "$BIN/dvpd" /usr/local/bin/dvpd; ln -sf "$BIN/d8" /usr/local/bin/d8; fi
mkdir -p "$DATA"
if [ -f "$DATA/dvpd.pid" ] && kill -0 "$(cat "$DATA/dvpd.pid")" 2>/dev/null; then
  log "dvpd already runs (pid $(cat "$DATA/dvpd.pid")); stop it with scripts/stop.sh"
else
  log "starting dvpd up (data dir $DATA, API on https://$LISTEN)"
  nohup "$BIN/dvpd" up --data-dir "$DATA" --listen "$LISTEN" >>"$DATA/dvpd.log" 2>&1 &
  echo $! >"$DATA/dvpd.pid"
  for _ in $(seq 1 150); do
    curl -sk -o /dev/null -w '%{http_code}' "https://$LISTEN/readyz" 2>/dev/null | grep -q 200 && break
    kill -0 "$(cat "$DATA/dvpd.pid")" 2>/dev/null || { tail -20 "$DATA/dvpd.log"; die "dvpd exited; log above"; }
    sleep 0.2
  done
fi
cat <<TXT

The platform is up. Its kubeconfig is $DATA/kubeconfig.
  $BIN/d8 k get vmclass            # d8 k is kubectl with that kubeconfig
  $BIN/d8 k apply -f vm.yaml       # manifests from the user guide
  export KUBECONFIG=$DATA/kubeconfig   # to use plain kubectl
Log: $DATA/dvpd.log    Stop: scripts/stop.sh
TXT
