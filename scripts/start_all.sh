#!/usr/bin/env bash
# Start every node of a chain folder in the background (pid in nodeI/node.pid, log in nodeI/node.log).
# Exits 0 only once every node answers JSON-RPC; on failure it stops what it started and shows the logs.
# Usage: scripts/start_all.sh DIR [TIMEOUT_SECONDS]
set -euo pipefail
DIR="${1:?usage: scripts/start_all.sh DIR [TIMEOUT_SECONDS]}"
TIMEOUT="${2:-60}"
. "$(dirname "$0")/_venv.sh"
. "$(dirname "$0")/_alive.sh"
shopt -s nullglob
nodes=("$DIR"/node*/config.toml)
[ ${#nodes[@]} -gt 0 ] || { echo "error: no node*/config.toml under $DIR (create one with scripts/build_chain.sh)" >&2; exit 2; }
started=()
for cfg in "${nodes[@]}"; do
  nd="$(dirname "$cfg")"
  if [ -f "$nd/node.pid" ] && alive "$(cat "$nd/node.pid")"; then
    echo "$(basename "$nd") already running (pid $(cat "$nd/node.pid"))"
    continue
  fi
  nohup consortium node start --config "$cfg" >>"$nd/node.log" 2>&1 </dev/null &
  echo $! >"$nd/node.pid"
  started+=("$nd")
  echo "started $(basename "$nd") (pid $!)"
done
rpc_url() {  # the node's RPC URL from its config.toml
  python - "$1" <<'PY'
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
print(f"http://{c['rpc']['host']}:{c['rpc']['port']}/")
PY
}
deadline=$((SECONDS + TIMEOUT))
for cfg in "${nodes[@]}"; do
  nd="$(dirname "$cfg")"; url="$(rpc_url "$cfg")"
  until python - "$url" <<'PY' 2>/dev/null
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=b'{"jsonrpc":"2.0","id":1,"method":"getBlockNumber"}',
                             headers={"Content-Type": "application/json"})
sys.exit(0 if "result" in json.load(urllib.request.urlopen(req, timeout=2)) else 1)
PY
  do
    if ! alive "$(cat "$nd/node.pid")" || [ $SECONDS -ge $deadline ]; then
      echo "error: $(basename "$nd") did not come up (see $nd/node.log):" >&2
      tail -n 20 "$nd/node.log" >&2 || true
      for s in "${started[@]}"; do kill "$(cat "$s/node.pid")" 2>/dev/null || true; done
      exit 1
    fi
    sleep 0.3
  done
  echo "$(basename "$nd") answers on $url"
done
