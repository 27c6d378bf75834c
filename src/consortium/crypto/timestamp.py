"""RFC 3161 time-stamp tokens: build a request, parse a TSA's reply, verify a token.

A token is a time-stamping authority's (TSA's) CMS signature over ``(hash, time,
policy, serial)``: proof, independent of every consortium member, that the hash
existed no later than that time. The ASN.1/CMS work is done by ``rfc3161-client``
(Trail of Bits; strict DER, Rust, the library sigstore uses) with ``cryptography``
for X.509; nothing here reads DER by hand. Some TSAs (OpenSSL's own, Microsoft's,
Bouncy Castle) send their certificate SET OF in chain order rather than DER order,
which a strict parser refuses; :func:`parse_response` with ``normalize=True`` (the
anchoring node, once, as a reply arrives) re-sorts that set with ``asn1crypto``.
The set is outside the signature, so the token still verifies, and the stored bytes
are strict DER that any verifier — ours, ``openssl ts -verify`` — reads.

Untrusted bytes become a :class:`TimestampToken` at one edge (:func:`parse_response`:
size bound, DER, status granted); :func:`verify_token` turns a token into a
:class:`VerifiedTimestamp`, the only type that says "this TSA signed this hash at
this time". Every failure is a :class:`TimestampError` with a reason a person can act on.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

MAX_RESPONSE_BYTES = 64 * 1024
"""A TSA reply with its signer certificate and a short chain is 1-8 KB; anything near this is not a reply."""
SHA256_OID = "2.16.840.1.101.3.4.2.1"
MAX_NAME = 64


class TimestampError(ValueError):
    """A token that cannot be used. ``kind`` is one of the constants below; the message says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


MALFORMED = "malformed"
"""Not a granted RFC 3161 reply in DER (garbage, truncated, oversized, a rejection)."""
OTHER_HASH = "other-hash"
"""A valid-looking token over another hash (or another hash algorithm than SHA-256)."""
OTHER_TSA = "other-tsa"
"""Signed by a TSA none of whose certificates chains to a trusted TSA certificate."""
BAD_SIGNATURE = "bad-signature"
"""Claims a trusted TSA but its signature, certificate chain or EKU does not verify."""
POLICY = "policy"
"""Issued under a TSA policy other than the one the trusted TSA entry requires."""


@dataclass(frozen=True)
class TrustedTsa:
    """A time-stamping authority a chain trusts (genesis ``[[tsa]]``, or governance).

    ``certificate`` is the DER of the certificate tokens must chain to: the TSA's
    root (or issuing) CA. ``policy``, when not empty, is the TSA policy OID every
    token must carry (a TSA may sign under several policies of differing assurance).
    """

    name: str
    certificate: bytes
    policy: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 0 < len(self.name) <= MAX_NAME or not self.name.isprintable():
            raise ValueError(f"a TSA name is 1-{MAX_NAME} printable characters, got {self.name!r}")
        try:
            x509.load_der_x509_certificate(self.certificate)
        except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
            raise ValueError(f"TSA {self.name!r}: the certificate is not a DER X.509 certificate: {exc}") from None
        if self.policy and not all(p.isdigit() for p in self.policy.split(".")):
            raise ValueError(f"TSA {self.name!r}: policy must be a dotted OID such as 1.2.3.4, got {self.policy!r}")

    @property
    def x509(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate)


@dataclass(frozen=True)
class TimestampRequest:
    der: bytes
    """The DER TimeStampReq to POST (Content-Type application/timestamp-query)."""
    nonce: int
    digest: bytes


def build_request(data: bytes) -> TimestampRequest:
    """A request for a token over SHA-256(``data``), with a random nonce, asking for the signer certificate.

    The nonce ties the reply to this request (a replayed old reply is refused);
    ``certReq`` makes the token carry its signer certificate, so a verifier needs only
    the TSA's root certificate from genesis.
    """
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    if not data:
        raise ValueError("nothing to time-stamp: the data is empty")
    req = TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256).nonce(nonce=True) \
        .cert_request(cert_request=True).build()
    return TimestampRequest(der=req.as_bytes(), nonce=int(req.nonce or 0), digest=sha256(data))


@dataclass(frozen=True)
class TimestampToken:
    """A granted TSA reply that parsed as strict DER; nothing about it is verified yet."""

    der: bytes
    """The TimeStampResp (status + token), strict DER: what bundles carry."""
    gen_time: datetime
    accuracy: timedelta
    policy: str
    serial: int
    nonce: int | None
    hash_oid: str
    imprint: bytes


@dataclass(frozen=True)
class VerifiedTimestamp:
    """A token whose signature chains to a trusted TSA and whose imprint is the expected hash."""

    tsa: str
    """The trusted TSA's name (genesis)."""
    gen_time: datetime
    accuracy: timedelta
    policy: str
    serial: int
    imprint: bytes

    @property
    def latest(self) -> datetime:
        """The upper bound: the hash existed no later than this (TSA time plus its stated accuracy)."""
        return self.gen_time + self.accuracy


def parse_response(data: bytes, *, normalize: bool = False) -> TimestampToken:
    """Parse a TSA's reply (untrusted bytes). Raises TimestampError(MALFORMED), never anything else.

    ``normalize``: put the certificate SET OF in DER order first (see the module docstring).
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TimestampError(MALFORMED, "a time-stamp reply is bytes")
    data = bytes(data)
    if len(data) > MAX_RESPONSE_BYTES:
        raise TimestampError(MALFORMED, f"the time-stamp reply is {len(data)} bytes; at most {MAX_RESPONSE_BYTES} are accepted")
    if normalize:
        data = _normalized(data)
    from rfc3161_client import PKIStatus, decode_timestamp_response

    try:
        resp = decode_timestamp_response(data)
        status = resp.status
        if status != PKIStatus.GRANTED:
            text = "; ".join(resp.status_string)[:200]
            raise TimestampError(MALFORMED, f"the TSA did not grant a token (PKI status {status}{': ' + text if text else ''})")
        _require_der(data)
        info = resp.tst_info
        acc = info.accuracy
        accuracy = timedelta(seconds=acc.seconds or 0, milliseconds=acc.millis or 0, microseconds=acc.micros or 0) \
            if acc is not None else timedelta(0)
        gen_time = info.gen_time
        if gen_time.tzinfo is None:
            gen_time = gen_time.replace(tzinfo=UTC)
        return TimestampToken(
            der=data, gen_time=gen_time, accuracy=accuracy, policy=info.policy.dotted_string,
            serial=info.serial_number, nonce=info.nonce, hash_oid=info.message_imprint.hash_algorithm.dotted_string,
            imprint=bytes(info.message_imprint.message),
        )
    except TimestampError:
        raise
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as exc:  # noqa: BLE001 - the Rust parser may panic (pyo3 PanicException is a BaseException)
        raise TimestampError(MALFORMED, f"not an RFC 3161 time-stamp reply: {_short(exc)}") from None


DIGESTS = {"1.3.14.3.2.26": "SHA-1", "2.16.840.1.101.3.4.2.4": "SHA-224", SHA256_OID: "SHA-256",
           "2.16.840.1.101.3.4.2.2": "SHA-384", "2.16.840.1.101.3.4.2.3": "SHA-512"}
"""The hash algorithms a reply may name (digestAlgorithms, the signer's digestAlgorithm, the imprint's)."""


def _require_der(data: bytes) -> None:
    """protocol.md §11.6 "strict DER": the whole reply, as its ASN.1 types define it, is DER.

    asn1crypto parses every part of it under the schemas of RFC 3161, RFC 5652, RFC 5280 and RFC 5035
    (the TSTInfo inside the token, every embedded certificate down to its names, public key and the values
    of the extensions X.509 defines, every signed attribute of a type CMS/ESS define) and re-encodes it in
    DER from the parsed values (minimal integers and lengths, BOOLEAN FF, canonical times, SET OF sorted,
    DEFAULT values omitted, named bit strings trimmed); the result must be the input, byte for byte. Then
    the few rules of those RFCs that are values rather than encodings (versions, hash algorithms, ECDSA
    signature values, accuracy). The signed parts are checked again by the signature; this is for the
    rest — an embedded copy of the root, the certificate set, the unsigned fields — which no signature
    covers and which two verifiers must read alike (the offline page applies the same rules).
    """
    from asn1crypto import tsp

    def bad(why: str) -> TimestampError:
        return TimestampError(MALFORMED, f"the time-stamp reply is not DER as RFC 3161 defines it: {why}")

    try:
        again = tsp.TimeStampResp.load(data, strict=True).dump(force=True)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - asn1crypto raises ValueError, TypeError, KeyError... on hostile bytes
        raise bad(_short(exc).split("\n")[0]) from None
    if again != data:
        at = next((i for i, (a, b) in enumerate(zip(again, data, strict=False)) if a != b), min(len(again), len(data)))
        raise bad(f"byte {at} is not as DER encodes the value read (BER, a non-minimal or out-of-order encoding)")
    try:
        _require_values(tsp.TimeStampResp.load(data, strict=True), bad)
    except TimestampError:
        raise
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. an algorithm asn1crypto does not know
        raise bad(_short(exc).split("\n")[0]) from None


def _require_values(resp: Any, bad: Callable[[str], TimestampError]) -> None:
    """The value rules of :func:`_require_der` on the parsed reply."""
    from asn1crypto import algos

    signed = resp["time_stamp_token"]["content"]
    if resp["time_stamp_token"]["content_type"].dotted != "1.2.840.113549.1.7.2" or signed["version"].native != "v3":
        raise bad("the token is not a version 3 CMS SignedData (RFC 5652 §5.1)")
    info = signed["encap_content_info"]["content"].parsed
    if info is None or info["version"].native != "v1":
        raise bad("the TSTInfo is not version 1")
    digests = [a for a in signed["digest_algorithms"]] + [si["digest_algorithm"] for si in signed["signer_infos"]] \
        + [info["message_imprint"]["hash_algorithm"]]
    for alg in digests:
        if alg["algorithm"].dotted not in DIGESTS or alg["parameters"].native is not None:
            raise bad(f"hash algorithm {alg['algorithm'].dotted} is not one of {', '.join(DIGESTS.values())} "
                      "with NULL or absent parameters")
    for si in signed["signer_infos"]:
        if si["version"].native != ("v1" if si["sid"].name == "issuer_and_serial_number" else "v3"):
            raise bad("a SignerInfo's version does not match its signer identifier (RFC 5652 §5.3)")
    acc = info["accuracy"]
    if acc.native is not None and not ((acc["seconds"].native or 0) >= 0 and all(
            acc[f].native is None or 1 <= acc[f].native <= 999 for f in ("millis", "micros"))):
        raise bad("the accuracy is negative or its millis/micros are not 1-999 (RFC 3161 §2.4.2)")
    if info["nonce"].native is not None and info["nonce"].native < 0:
        raise bad("the nonce is negative")
    for choice in signed["certificates"] if signed["certificates"].native is not None else []:
        if choice.name != "certificate":
            raise bad(f"an embedded certificate is a {choice.name}, not an X.509 certificate")
        cert = choice.chosen
        if cert["tbs_certificate"]["version"].native not in ("v1", "v2", "v3"):
            raise bad("an embedded certificate's version is not v1, v2 or v3")
        if cert["signature_algorithm"]["algorithm"].dotted.startswith("1.2.840.10045.4."):  # ecdsa-with-*
            sig = cert["signature_value"].native
            try:
                ok = algos.DSASignature.load(sig, strict=True).dump(force=True) == sig
            except ValueError:
                ok = False
            if not ok:
                raise bad("an embedded certificate's ECDSA signature is not a DER ECDSA-Sig-Value")


def _normalized(data: bytes) -> bytes:
    """The same reply with the token's certificate SET OF sorted into DER order (outside the signature)."""
    from asn1crypto import cms, core, tsp

    try:
        resp = tsp.TimeStampResp.load(data, strict=True)
        token = resp["time_stamp_token"]
        if isinstance(token, core.Void):
            return data
        signed = token["content"]
        certs = signed["certificates"]
        if isinstance(certs, core.Void) or len(certs) < 2:
            return data
        ordered = sorted(certs, key=lambda c: c.dump())
        if [c.dump() for c in ordered] == [c.dump() for c in certs]:
            return data
        signed["certificates"] = cms.CertificateSet(ordered)
        return resp.dump()
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException:  # noqa: BLE001 - left to the strict parser, which says what is wrong
        return data


def verify_token(token: TimestampToken, digest: bytes, tsas: Sequence[TrustedTsa], *, nonce: int | None = None) -> VerifiedTimestamp:
    """Check that a trusted TSA signed ``digest`` (SHA-256), or raise TimestampError saying why not.

    Cheap checks first (hash algorithm, imprint), then the CMS signature and the
    certificate chain to each trusted TSA's certificate, valid at the token's own
    time (a token outlives its signer certificate: that is its purpose), with the
    critical id-kp-timeStamping EKU on the signer, then the policy.
    """
    from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

    if token.hash_oid != SHA256_OID:
        raise TimestampError(OTHER_HASH, f"the token is over a hash made with algorithm {token.hash_oid}, not SHA-256")
    if token.imprint != digest:
        raise TimestampError(OTHER_HASH, f"the token is over hash 0x{token.imprint.hex()}, not 0x{digest.hex()}")
    if nonce is not None and token.nonce != nonce:
        raise TimestampError(MALFORMED, "the reply's nonce is not the request's: a stale or replayed reply")
    if not tsas:
        raise TimestampError(OTHER_TSA, "the chain trusts no time-stamping authority (genesis lists no [[tsa]])")
    resp = decode_timestamp_response(token.der)
    failures: list[tuple[TrustedTsa, str]] = []
    for tsa in tsas:
        try:
            VerifierBuilder().add_root_certificate(tsa.x509).build().verify(resp, digest)
        except VerificationError as exc:
            failures.append((tsa, _short(exc)))
            continue
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except BaseException as exc:  # noqa: BLE001 - a panic in the verifier is a refusal, not a crash
            failures.append((tsa, _short(exc)))
            continue
        if tsa.policy and token.policy != tsa.policy:
            raise TimestampError(POLICY, f"the token was issued under TSA policy {token.policy}; {tsa.name} is "
                                         f"trusted only under policy {tsa.policy}")
        return VerifiedTimestamp(tsa=tsa.name, gen_time=token.gen_time, accuracy=token.accuracy, policy=token.policy,
                                 serial=token.serial, imprint=token.imprint)
    signers = _embedded_certificates(resp)
    claimed = [t for t in tsas if any(_issued_by(c, t.x509) for c in signers)]
    if claimed:
        tsa = claimed[0]
        reason = next(r for t, r in failures if t is tsa)
        raise TimestampError(BAD_SIGNATURE, f"the token claims time-stamping authority {tsa.name} but does not verify "
                                            f"against its certificate (altered token?): {reason}")
    who = ", ".join(sorted({_subject(c) for c in signers}))[:200] or "an unnamed signer"
    raise TimestampError(OTHER_TSA, f"the token is signed by {who}, which is not a time-stamping authority this "
                                    f"chain trusts (trusted: {', '.join(t.name for t in tsas)})")


def _embedded_certificates(resp: object) -> list[x509.Certificate]:
    out = []
    try:
        for der in resp.signed_data.certificates:  # type: ignore[attr-defined]
            try:
                with warnings.catch_warnings():  # a fuzzed serial of 0 warns before it errors, some day
                    warnings.simplefilter("ignore")
                    out.append(x509.load_der_x509_certificate(der))
            except ValueError:
                continue
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException:  # noqa: BLE001
        return out
    return out


def _issued_by(cert: x509.Certificate, root: x509.Certificate) -> bool:
    """Whether ``cert`` is, or claims to be, issued by ``root`` (same issuer name even with a broken signature)."""
    try:
        if cert.public_bytes(Encoding.DER) == root.public_bytes(Encoding.DER):
            return True
        try:
            cert.verify_directly_issued_by(root)
            return True
        except (ValueError, TypeError, InvalidSignature):
            return cert.issuer == root.subject
    except ValueError:  # an embedded certificate whose fields do not parse (cryptography parses lazily)
        return False


def _subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return "a certificate whose subject does not parse"


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"
