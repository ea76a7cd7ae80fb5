"""A renewed certificate against the published TLSA records, as ``smtpdiag serve``
sees it between rounds.

The service runs as a real subprocess; the test kit's DNS server stands in for a
validating resolver (AD bit on the zone), publishing ``3 1 1`` TLSA records for the
MX host. The "renewal" moves the MX host's address from the lab server presenting the
``good`` leaf to the one presenting the ``expired`` leaf (another key): the
certificate fingerprints change, and whether the new one matches depends on whether
the operator published its key in time.
"""

from __future__ import annotations

import hashlib
import json
import time

import jsonschema
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from health_lab import HealthLab
from serve_process import get, serve_process

from smtpdiag.report.health_json import load_check_schema
from smtpdiag.testing.dnsserver import zone_text

OLD, NEW = "127.78.0.1", "127.78.0.5"  # leaves "good" and "expired" of the lab PKI


def _spki(lab: HealthLab, kind: str) -> str:
    cert = x509.load_pem_x509_certificate(lab.servers.pki.leaf_pem(kind))
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def _zone(lab: HealthLab, zone: str, address: str, keys: list[str]) -> None:
    # A TTL of 1 s: the service keeps DNS answers for their TTL, so the change made
    # mid-test is seen from the next round one second later.
    records = {
        "@": ["MX 10 mx"],
        "mx": [f"A {address}"],
        f"_{lab.port}._tcp.mx": [f"TLSA 3 1 1 {k}" for k in keys],
    }
    lab.dns.server.add_zone(zone, zone_text(zone, records, ttl=1))
    lab.dns.server.set_secure(zone)


def _value(body: str, prefix: str) -> float | None:
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_renewal_that_breaks_tlsa_is_seen(lab: HealthLab) -> None:
    broken, kept = "renewed.tlsa.serve.test", "prepared.tlsa.serve.test"
    good, new = _spki(lab, "good"), _spki(lab, "expired")
    _zone(lab, broken, OLD, [good])  # only the old key is published
    _zone(lab, kept, OLD, [good, new])  # the next key was published before the renewal
    with serve_process([*lab.cli_args(), "--no-state", "--min-interval", "0.1"]) as srv:
        for zone in (broken, kept):
            body = srv.probe(zone).body
            assert f'smtpdiag_cert_tlsa_match{{domain="{zone}",state="match"}} 1' in body
            assert f'smtpdiag_cert_tlsa_match{{domain="{zone}",state="mismatch"}} 0' in body
            assert "smtpdiag_change_timestamp_seconds" not in body
        _zone(lab, broken, NEW, [good])
        _zone(lab, kept, NEW, [good, new])
        time.sleep(1.3)  # the answers' TTL (1 s) and --min-interval

        body = srv.probe(broken).body
        cert = f'smtpdiag_change_timestamp_seconds{{domain="{broken}",what="cert"}}'
        tlsa = f'smtpdiag_change_timestamp_seconds{{domain="{broken}",what="cert_tlsa"}}'
        changed = _value(body, cert)
        assert changed is not None and abs(changed - time.time()) < 60
        assert _value(body, tlsa) == changed
        assert f'smtpdiag_cert_tlsa_match{{domain="{broken}",state="mismatch"}} 1' in body
        assert f'smtpdiag_cert_tlsa_match{{domain="{broken}",state="match"}} 0' in body

        report = json.loads(get(f"{srv.base}/report?target={broken}").body)
        jsonschema.Draft202012Validator(load_check_schema()).validate(report)
        service = report["service"]
        assert service["cert_tlsa_match"] == "mismatch"
        assert set(service["changed"]) == {"cert", "cert_tlsa"}
        (route,) = service["certificates"]
        assert route["address"] == NEW and route["tlsa_matched"] is False
        assert route["tlsa_failure"] == "tlsa-invalid"

        body = srv.probe(kept).body
        assert f'smtpdiag_change_timestamp_seconds{{domain="{kept}",what="cert"}}' in body
        assert 'what="cert_tlsa"' not in body
        assert f'smtpdiag_cert_tlsa_match{{domain="{kept}",state="match"}} 1' in body


def test_no_tlsa_published(lab: HealthLab) -> None:
    with serve_process([*lab.cli_args(), "--no-state"]) as srv:
        body = srv.probe("ok.health.test").body
        assert 'smtpdiag_cert_tlsa_match{domain="ok.health.test",state="no-tlsa"} 1' in body
        report = json.loads(get(f"{srv.base}/report?target=ok.health.test").body)
        assert report["service"]["cert_tlsa_match"] == "no-tlsa"
