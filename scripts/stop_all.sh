#!/usr/bin/env bash
# Stop every node of a chain folder by the pid in nodeI/node.pid: SIGTERM, wait, then SIGKILL.
# Usage: scripts/stop_all.sh DIR [GRACE_SECONDS]
set -uo pipefail
DIR="${1:?usage: scripts/stop_all.sh DIR [GRACE_SECONDS]}"
GRACE="${2:-15}"
shopt -s nullglob
pids=()
for pf in "$DIR"/node*/node.pid; do
  pid="$(cat "$pf")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" && pids+=("$pid") && echo "stopping $(basename "$(dirname "$pf")") (pid $pid)"
  fi
done
deadline=$((SECONDS + GRACE))
for pid in "${pids[@]}"; do
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "pid $pid did not stop in ${GRACE}s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
      break
    fi
    sleep 0.1
  done
done
for pf in "$DIR"/node*/node.pid; do
  kill -0 "$(cat "$pf")" 2>/dev/null || rm -f "$pf"
done
echo "all nodes of $DIR stopped"
