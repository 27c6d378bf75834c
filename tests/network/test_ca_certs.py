"""The two kinds of CA certificate (a chain's and an organization's) share one profile (certs._self_signed_ca):
self-signed, may sign end-entity certificates and CRLs only, valid from five minutes before issue."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from consortium.network.certs import generate_key, is_issued_by, issue_ca, issue_org_ca

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("issue", [
    lambda key: issue_ca("chain0", key=key, days=30, now=NOW),
    lambda key: issue_org_ca("bank", "chain0", key=key, days=30, now=NOW),
], ids=["chain-ca", "org-ca"])
def test_ca_profile(issue) -> None:
    key = generate_key()
    got_key, cert = issue(key)
    assert got_key is key
    assert cert.subject == cert.issuer and is_issued_by(cert, cert)
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not (usage.value.digital_signature or usage.value.key_encipherment or usage.value.content_commitment)
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=30)


def test_the_two_cas_differ_only_in_their_names() -> None:
    _, chain = issue_ca("chain0", now=NOW)
    _, org = issue_org_ca("bank", "chain0", now=NOW)
    assert chain.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "chain CA chain0"
    assert [a.value for a in org.subject] == ["bank", "chain0", "bank CA"]
    assert chain.serial_number != org.serial_number
    assert [e.oid for e in chain.extensions] == [e.oid for e in org.extensions]
