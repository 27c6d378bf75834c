#!/usr/bin/env bash
# Stop every node of a chain folder by the pid in nodeI/node.pid: SIGTERM, wait, then SIGKILL.
# Then checks that nothing still holds any node's ports: a process it did not start (e.g. a node
# run by hand on the same port) is named, and the exit status is 1, instead of claiming success.
# Usage: scripts/stop_all.sh DIR [GRACE_SECONDS]
set -uo pipefail
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") usage >&2; exit 2 ;;
  -*) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
esac
DIR="$1"
GRACE="${2:-15}"
[[ "$GRACE" =~ ^[0-9]+$ ]] || { echo "error: GRACE_SECONDS must be a whole number, got '$GRACE'" >&2; exit 2; }
[ -d "$DIR" ] || { echo "error: $DIR is not a folder" >&2; exit 2; }
shopt -s nullglob
. "$(dirname "$0")/_venv.sh"
set +e
. "$(dirname "$0")/_alive.sh"
. "$(dirname "$0")/_gateway.sh"
gateway_stop "$DIR" "$GRACE"  # first, so it never sends to a stopping node
pids=()
for pf in "$DIR"/node*/node.pid; do
  pid="$(cat "$pf")"; nd="$(dirname "$pf")"
  alive "$pid" || continue
  if ! python -m consortium.ops.launch is-node "$pid" "$nd/config.toml"; then
    echo "$(basename "$nd"): pid $pid in node.pid is not this node (a stale pid file); not touching it" >&2
    rm -f "$pf"
    continue
  fi
  kill -TERM "$pid" && pids+=("$pid") && echo "stopping $(basename "$nd") (pid $pid)"
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
  [ -f "$pf" ] && { alive "$(cat "$pf")" || rm -f "$pf"; }
done
# Judge by the ports too: a node stopped by pid may not be the only process serving them.
status=0
configs=("$DIR"/node*/config.toml)
for cfg in "${configs[@]}"; do
  python -m consortium.ops.launch held "$cfg" || status=1
done
if [ $status -ne 0 ]; then
  echo "not everything stopped: the processes named above still serve ports of $DIR's nodes (stop_all.sh stops only the pids in nodeI/node.pid)" >&2
  exit 1
fi
if [ ${#pids[@]} -eq 0 ]; then
  echo "no node of $DIR was running"
else
  echo "all nodes of $DIR stopped (${#pids[@]})"
fi
