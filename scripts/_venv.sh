# Sourced by the other scripts: make sure .venv exists with the project installed.
# Reinstalls only when pyproject.toml changed since the last install (a stamp file holds its hash).
# Usage: VENV_EXTRAS=test . scripts/_venv.sh   (a variable, not an argument: "." without
# arguments would pass on the caller's own "$1")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${VENV_EXTRAS:-}"
PY="${PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: $PY not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
"$PY" - <<'PYEOF' || { echo "error: Python >= 3.11 is required (found $("$PY" --version 2>&1))" >&2; exit 2; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PYEOF
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
SPEC="$ROOT"
[ -n "$EXTRAS" ] && SPEC="$ROOT[$EXTRAS]"
STAMP="$VENV/.consortium-installed-${EXTRAS:-base}"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
TEST_STAMP="$VENV/.consortium-installed-test"
if [ -z "$EXTRAS" ] && [ -f "$TEST_STAMP" ] && [ "$(cat "$TEST_STAMP")" = "$WANT" ]; then
  :  # the test install includes the base install
elif [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "==> installing consortium${EXTRAS:+[$EXTRAS]} into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || true
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$SPEC" >&2
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
