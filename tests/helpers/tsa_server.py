"""A real RFC 3161 time-stamping authority for tests: OpenSSL's ``openssl ts -reply`` behind HTTP.

Run as a process (``python tests/helpers/tsa_server.py DIR PORT``); DIR holds the
``tsa.cnf`` that :func:`tests.helpers.tsa.make_tsa` writes. It speaks the RFC 3161
§3.4 HTTP transport: POST a DER TimeStampReq with Content-Type
``application/timestamp-query``, get a DER TimeStampResp back as
``application/timestamp-reply``. Each request runs ``openssl ts -reply`` once.

Some paths misbehave on purpose, so tests can show the node survives a bad TSA:
``/slow?s=N`` answers after N seconds, ``/garbage`` sends random bytes, ``/huge``
sends 10 MiB, ``/error`` answers HTTP 500, ``/policy2`` signs under the TSA's second
policy. ``/stats`` (GET) returns how many replies were sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

POLICY2 = "1.3.6.1.4.1.99999.2"
_lock = threading.Lock()  # openssl ts rewrites its serial file: one signer at a time
_served = 0


def make_handler(tsa_dir: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:  # quiet: tests read their own logs
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/stats":
                self._send(200, str(_served).encode(), "text/plain")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            global _served
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= 65536:
                self._send(400, b"bad length", "text/plain")
                return
            query = self.rfile.read(length)
            if url.path == "/slow":
                time.sleep(float(parse_qs(url.query).get("s", ["5"])[0]))
            elif url.path == "/garbage":
                self._send(200, os.urandom(700), "application/timestamp-reply")
                return
            elif url.path == "/huge":
                self._send(200, b"\x30" * (10 * 1024 * 1024), "application/timestamp-reply")
                return
            elif url.path == "/error":
                self._send(500, b"internal error", "text/plain")
                return
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self._send(415, b"want application/timestamp-query", "text/plain")
                return
            extra = ["-tspolicy", POLICY2] if url.path == "/policy2" else []
            with _lock, tempfile.TemporaryDirectory() as tmp:
                q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
                q.write_bytes(query)
                done = subprocess.run(["openssl", "ts", "-reply", "-config", str(tsa_dir / "tsa.cnf"), "-queryfile",
                                       str(q), "-out", str(r), *extra], cwd=tsa_dir, capture_output=True, timeout=30)
                if done.returncode != 0 or not r.exists():
                    self._send(500, done.stderr[-500:], "text/plain")
                    return
                reply = r.read_bytes()
                _served += 1
            self._send(200, reply, "application/timestamp-reply")

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def main(argv: list[str]) -> None:
    tsa_dir, port = Path(argv[0]).resolve(), int(argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(tsa_dir))
    server.daemon_threads = True
    print(f"tsa listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
