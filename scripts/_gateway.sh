# Sourced by start_all.sh and stop_all.sh (after _alive.sh): the optional evidence gateway of a
# local chain, DIR/gateway/gateway.toml (scripts/build_chain.sh -g PORT writes it). Its pid is in
# DIR/gateway/gateway.pid, its log in DIR/gateway/gateway.log.

is_gateway() {  # is_gateway PID CONFIG: that pid runs `consortium gateway start --config CONFIG`
  local cmd  # no pipe into grep -q: under pipefail its early exit would fail the pipeline now and then
  cmd="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
  [[ "$cmd" == *"gateway start --config $2"* ]]
}

gateway_start() {  # gateway_start DIR TIMEOUT_SECONDS; returns 1 (after showing the log) if it did not come up
  local gw="$1/gateway" cfg pid
  [ -f "$gw/gateway.toml" ] || return 0
  cfg="$(cd "$gw" && pwd)/gateway.toml"
  if [ -f "$gw/gateway.pid" ] && alive "$(cat "$gw/gateway.pid")" && is_gateway "$(cat "$gw/gateway.pid")" "$cfg"; then
    echo "gateway already running (pid $(cat "$gw/gateway.pid"))"
    return 0
  fi
  nohup consortium gateway start --config "$cfg" >>"$gw/gateway.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$gw/gateway.pid"
  echo "started gateway (pid $pid)"
  if ! python - "$cfg" "$2" "$pid" <<'PY'
import json, os, sys, time, tomllib, urllib.request
cfg, timeout, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
g = tomllib.load(open(cfg, "rb"))["gateway"]
url = f"http://{g.get('host', '127.0.0.1')}:{g.get('port', 20400)}/status"
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if json.load(r).get("gateway"):
                print(f"gateway answers on {url[:-7]}")
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
PY
  then
    echo "error: the gateway did not come up; last lines of $gw/gateway.log:" >&2
    tail -n 15 "$gw/gateway.log" >&2
    kill -TERM "$pid" 2>/dev/null
    rm -f "$gw/gateway.pid"
    return 1
  fi
}

gateway_stop() {  # gateway_stop DIR GRACE_SECONDS: SIGTERM by pid, wait, then SIGKILL
  local gw="$1/gateway" pid deadline
  [ -f "$gw/gateway.pid" ] || return 0
  pid="$(cat "$gw/gateway.pid")"
  if alive "$pid" && is_gateway "$pid" "$(cd "$gw" && pwd)/gateway.toml"; then
    kill -TERM "$pid" && echo "stopping gateway (pid $pid)"
    deadline=$((SECONDS + $2))
    while alive "$pid"; do
      if [ $SECONDS -ge $deadline ]; then
        echo "gateway pid $pid did not stop in $2s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null
        break
      fi
      sleep 0.1
    done
  fi
  alive "$pid" || rm -f "$gw/gateway.pid"
}
