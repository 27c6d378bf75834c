#!/usr/bin/env bash
# Run the whole test suite. Creates .venv (with the test extra) on first use.
# Usage: scripts/test.sh [PYTEST_ARGS...]   e.g. scripts/test.sh tests/test_encoding.py -x
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'; echo "(pytest's own options: scripts/test.sh --help-pytest)"; exit 0 ;;
  --help-pytest) shift; set -- --help "$@" ;;
esac
VENV_EXTRAS=test . "$(dirname "$0")/_venv.sh"
cd "$ROOT"
exec python -m pytest "$@"
