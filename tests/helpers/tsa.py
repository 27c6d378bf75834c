"""Test time-stamping authorities: a CA and a TSA certificate made by the test, OpenSSL signing.

:func:`make_tsa` writes a TSA folder (root CA, TSA key and certificate with the
critical id-kp-timeStamping EKU, ``tsa.cnf`` for ``openssl ts``); :func:`stamp`
signs one request with ``openssl ts -reply`` directly; :class:`TsaServer` serves
the folder over the RFC 3161 HTTP transport in its own process (started on a free
port, stopped by PID).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER = Path(__file__).with_name("tsa_server.py")
POLICY1 = "1.3.6.1.4.1.99999.1"
POLICY2 = "1.3.6.1.4.1.99999.2"


@dataclass(frozen=True)
class TsaFiles:
    dir: Path
    name: str
    ca_der: bytes
    """The root CA certificate (what genesis names)."""
    tsa_der: bytes
    """The TSA's signing certificate."""

    @property
    def ca_pem(self) -> str:
        return x509.load_der_x509_certificate(self.ca_der).public_bytes(serialization.Encoding.PEM).decode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "consortium tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_tsa(folder: Path, name: str = "Test TSA", *, chain_in_token: bool = True, ca_name: str | None = None,
             use_rsa: bool = False) -> TsaFiles:
    """A fresh root CA and a TSA certificate under it (critical id-kp-timeStamping EKU, as RFC 3161 §2.3 requires;
    OpenSSL refuses to sign with anything else, so tokens without it are not made here). P-256 keys, or RSA-2048
    with ``use_rsa`` (what most public TSAs use)."""

    def new_key() -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
        return rsa.generate_private_key(65537, 2048) if use_rsa else ec.generate_private_key(ec.SECP256R1())

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = new_key()
    ca_subject = _name(ca_name or f"{name} Root CA")
    ca = (x509.CertificateBuilder().subject_name(ca_subject).issuer_name(ca_subject)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = new_key()
    builder = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True))
    builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    tsa = builder.sign(ca_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    (folder / "ca.crt").write_bytes(ca.public_bytes(pem))
    (folder / "tsa.crt").write_bytes(tsa.public_bytes(pem))
    key_path = folder / "tsa.key"
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(f"""\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {folder}
serial = {folder}/serial
crypto_device = builtin
signer_cert = {folder}/tsa.crt
{"certs = " + str(folder / "ca.crt") if chain_in_token else ""}
signer_key = {folder}/tsa.key
signer_digest = sha256
default_policy = {POLICY1}
other_policies = {POLICY2}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")
    der = serialization.Encoding.DER
    return TsaFiles(folder, name, ca.public_bytes(der), tsa.public_bytes(der))


def stamp(tsa: TsaFiles, request_der: bytes, *, policy: str | None = None) -> bytes:
    """Sign one DER request with ``openssl ts -reply``; returns the DER reply."""
    with tempfile.TemporaryDirectory() as tmp:
        q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
        q.write_bytes(request_der)
        subprocess.run(["openssl", "ts", "-reply", "-config", str(tsa.dir / "tsa.cnf"), "-queryfile", str(q),
                        "-out", str(r), *(["-tspolicy", policy] if policy else [])],
                       check=True, capture_output=True, timeout=30)
        return r.read_bytes()


class TsaServer:
    """``tsa_server.py`` in its own process on a free loopback port; ``stop()`` kills it by PID."""

    def __init__(self, tsa: TsaFiles) -> None:
        self.tsa = tsa
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> TsaServer:
        # Port 0: the server binds a free port and prints it, so there is no race for the port.
        self.proc = subprocess.Popen([sys.executable, str(SERVER), str(self.tsa.dir), str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the test TSA did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def served(self) -> int:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as r:
            return int(r.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()

    def restart(self) -> TsaServer:
        """Start again on the same port (after ``stop()``: a TSA that was down comes back)."""
        self.stop()
        return self.start()

    def __enter__(self) -> TsaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
