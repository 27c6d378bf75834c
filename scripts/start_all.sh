#!/usr/bin/env bash
# Start every node of a chain folder in the background (pid in nodeI/node.pid; the node logs to
# nodeI/node.log, rotated by size; its stdout/stderr, where a fatal cause is repeated, go to nodeI/node.out).
# A node counts as up only when the process just started itself listens on the node's ports and
# answers JSON-RPC: something else answering on its port is an error, not a success. Exits 0 only
# once every node is up; on failure it stops what it started and shows why.
# Usage: scripts/start_all.sh DIR [TIMEOUT_SECONDS]
set -euo pipefail
usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") usage >&2; exit 2 ;;
  -*) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
esac
DIR="$1"
TIMEOUT="${2:-60}"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || { echo "error: TIMEOUT_SECONDS must be a whole number, got '$TIMEOUT'" >&2; exit 2; }
[ -d "$DIR" ] || { echo "error: $DIR is not a folder (create a chain with scripts/build_chain.sh)" >&2; exit 2; }
. "$(dirname "$0")/_venv.sh"
. "$(dirname "$0")/_alive.sh"
shopt -s nullglob
nodes=("$DIR"/node*/config.toml)
[ ${#nodes[@]} -gt 0 ] || { echo "error: no node*/config.toml under $DIR (create one with scripts/build_chain.sh)" >&2; exit 2; }
launch() { python -m consortium.ops.launch "$@"; }
started=()
fail() {
  echo "error: $1" >&2
  for log in "$2/node.out" "$2/node.log"; do
    [ -s "$log" ] && { echo "--- last lines of $log:" >&2; tail -n 15 "$log" >&2; }
  done
  for s in "${started[@]}"; do
    pid="$(cat "$s/node.pid")"
    kill -TERM "$pid" 2>/dev/null && echo "stopping $(basename "$s") (pid $pid), started by this run" >&2
  done
  for s in "${started[@]}"; do
    pid="$(cat "$s/node.pid")"
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
    rm -f "$s/node.pid"
  done
  exit 1
}
for cfg in "${nodes[@]}"; do
  nd="$(dirname "$cfg")"; name="$(basename "$nd")"
  if [ -f "$nd/node.pid" ]; then
    pid="$(cat "$nd/node.pid")"
    if launch is-node "$pid" "$cfg"; then
      echo "$name already running (pid $pid)"
      continue
    fi
    rm -f "$nd/node.pid"  # a stale pid file: that process is gone (or the pid now belongs to another program)
  fi
  launch preflight "$cfg" || fail "$name cannot start: a port it needs is taken (see above)" /nonexistent
  nohup consortium node start --config "$cfg" --log-file "$nd/node.log" >>"$nd/node.out" 2>&1 </dev/null &
  echo $! >"$nd/node.pid"
  started+=("$nd")
  echo "started $name (pid $!)"
done
deadline=$((SECONDS + TIMEOUT))
for cfg in "${nodes[@]}"; do
  nd="$(dirname "$cfg")"
  left=$((deadline - SECONDS)); [ "$left" -gt 0 ] || left=1
  launch wait "$(cat "$nd/node.pid")" "$cfg" "$left" || fail "$(basename "$nd") did not come up" "$nd"
done
. "$(dirname "$0")/_gateway.sh"  # the evidence gateway, if DIR/gateway/gateway.toml exists (build_chain.sh -g)
left=$((deadline - SECONDS)); [ "$left" -gt 0 ] || left=1
gateway_start "$DIR" "$left" || fail "the gateway did not come up" /nonexistent
