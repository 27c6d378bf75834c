"""The page's bundled libraries (src/consortium/report/verifier/vendor.js) are exactly what
scripts/verifier_vendor/build.sh makes from the pinned package-lock.json: rebuilt here from the npm registry
and compared byte for byte, so the vendored file is reviewable as "these versions, bundled by esbuild"."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_vendor_bundle_is_the_pinned_build(tmp_path) -> None:
    if not shutil.which("npm") or not shutil.which("node"):
        pytest.skip("node and npm are needed to rebuild the page's vendored libraries (apt-get install nodejs npm)")
    out = tmp_path / "vendor.js"
    r = subprocess.run(["bash", str(ROOT / "scripts" / "verifier_vendor" / "build.sh"), str(out)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0 and ("ENOTFOUND" in r.stderr or "EAI_AGAIN" in r.stderr):
        pytest.skip(f"the npm registry is not reachable: {r.stderr.strip()[-200:]}")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == (ROOT / "src" / "consortium" / "report" / "verifier" / "vendor.js").read_bytes()


def test_vendor_bundle_has_its_licenses_and_no_network_calls() -> None:
    text = (ROOT / "src" / "consortium" / "report" / "verifier" / "vendor.js").read_text(encoding="utf-8")
    for package in ("asn1js", "pkijs", "smol-toml", "bytestreamjs", "@peculiar/utils", "@noble/hashes"):
        assert f"---- {package}\n" in text, package
    for call in ("fetch(", "XMLHttpRequest", "WebSocket", "importScripts", "sendBeacon"):
        assert call not in text, call
