# Sourced by start_all.sh and stop_all.sh.
# alive PID: true if the process exists and is not a zombie. A stopped node whose parent
# has not reaped it yet still answers `kill -0`; it must count as gone, not as running.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
  [ "$state" != "Z" ]
}
