"""The systemd unit template is one systemd accepts (``systemd-analyze verify``), once its paths exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "consortium-node@.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_template_verifies(tmp_path: Path) -> None:
    text = UNIT.read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text and "RestartPreventExitStatus=3" in text
    # Point it at this checkout's consortium and a folder that exists, as an installer would.
    text = text.replace("/opt/consortium/.venv/bin/consortium", str(ROOT / ".venv" / "bin" / "consortium"))
    text = text.replace("/srv/consortium", str(tmp_path)).replace("User=consortium", "User=root")
    text = text.replace("Group=consortium", "Group=root")
    (tmp_path / "node0").mkdir()
    unit = tmp_path / "consortium-node@node0.service"
    unit.write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
