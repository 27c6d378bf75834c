#!/usr/bin/env bash
# Run the whole test suite. Creates .venv (with the test extra) on first use.
# Extra arguments go to pytest, e.g.  scripts/test.sh tests/test_encoding.py -x
set -euo pipefail
VENV_EXTRAS=test . "$(dirname "$0")/_venv.sh"
cd "$ROOT"
exec python -m pytest "$@"
