#!/usr/bin/env bash
# Stop every node of a chain folder by the pid in nodeI/node.pid: SIGTERM, wait, then SIGKILL.
# Usage: scripts/stop_all.sh DIR [GRACE_SECONDS]
set -uo pipefail
DIR="${1:?usage: scripts/stop_all.sh DIR [GRACE_SECONDS]}"
GRACE="${2:-15}"
shopt -s nullglob
. "$(dirname "$0")/_alive.sh"
pids=()
for pf in "$DIR"/node*/node.pid; do
  pid="$(cat "$pf")"
  if alive "$pid"; then
    kill -TERM "$pid" && pids+=("$pid") && echo "stopping $(basename "$(dirname "$pf")") (pid $pid)"
  fi
done
deadline=$((SECONDS + GRACE))
for pid in "${pids[@]}"; do
  while alive "$pid"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "pid $pid did not stop in ${GRACE}s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
      break
    fi
    sleep 0.1
  done
done
for pf in "$DIR"/node*/node.pid; do
  alive "$(cat "$pf")" || rm -f "$pf"
done
echo "all nodes of $DIR stopped"
