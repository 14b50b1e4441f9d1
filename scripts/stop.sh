#!/usr/bin/env bash
# Stop a `dvpd up` started by scripts/run.sh (running guests are left alone by design).
source "$(dirname "$0")/lib.sh"
DATA=${1:-$(default_data_dir)}
[ -f "$DATA/dvpd.pid" ] || die "no $DATA/dvpd.pid: is dvpd running from scripts/run.sh?"
pid=$(cat "$DATA/dvpd.pid")
kill "$pid" 2>/dev/null && for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
rm -f "$DATA/dvpd.pid"
log "dvpd stopped"
