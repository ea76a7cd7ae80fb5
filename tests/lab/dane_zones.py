"""The lab's DANE zones and its validating resolver (RFC 7672 in the lab tier).

Made at bring-up, because the TLSA records pin certificates made at bring-up:

* ``dane.test``: signed (ECDSA P-256, one key with the SEP flag, NSEC), with MX hosts
  pointing at the ``mxdane`` Postfix and TLSA records that match (3 1 1 of the leaf's
  key, 2 1 1 of the intermediate's), that do not (3 1 1 of another key), a DANE-TA
  record for a host the certificate does not name (the MX of ``taname``, and of
  ``tadomain``, a domain the certificate names), and a host without TLSA.
* ``bogus.test``: signed the same way, but the signatures expired ten days ago:
  a validating resolver answers SERVFAIL.
* ``unsigned.test``: no signatures; its TLSA record would match.

Signing uses dnspython's ``dns.dnssec.sign_zone`` (no new package). unbound
(:func:`unbound_conf`) trusts the two signed zones' keys (``trust-anchor``), asks NSD
for the lab zones (``stub-zone``) and refuses everything else; its root hints name
only NSD's address, so even a query that slipped through would never reach a real
root server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["ANCHORS_FILE", "SIGNED", "STUB_ZONES", "unbound_conf", "write_zones"]

#: Zones the resolver trusts (a trust anchor each).
SIGNED = ("dane.test", "bogus.test")
#: Zones the resolver asks NSD for; everything else it refuses.
STUB_ZONES = ("lab.test", "servfail.lab.test", "dane.test", "bogus.test", "unsigned.test")
ANCHORS_FILE = "anchors.keys"

_DNS_ADDRESS = "127.53.0.1"  # labctl.DNS_ADDRESS (not imported: labctl imports us)
_DNS_PORT = 5353
_RESOLVER_ADDRESS = "127.53.0.2"
_RESOLVER_PORT = 5353


def _spki_sha256(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def _hosts(v4: str, v6: str, *labels: str) -> list[str]:
    lines = []
    for label in labels:
        lines += [f"{label} A {v4}", f"{label} AAAA {v6}"]
    return lines


def _zone_texts(v4: str, v6: str, leaf: str, ta: str, other: str) -> dict[str, list[str]]:
    dane = [
        *_hosts(v4, v6, "mx-ee", "mx-ta", "mx-taname", "mx-wrong", "mx-none"),
        f"_25._tcp.mx-ee TLSA 3 1 1 {leaf}",
        f"_25._tcp.mx-ta TLSA 2 1 1 {ta}",
        f"_25._tcp.mx-taname TLSA 2 1 1 {ta}",
        f"_25._tcp.mx-wrong TLSA 3 1 1 {other}",
        "ee MX 10 mx-ee.dane.test.",
        "ta MX 10 mx-ta.dane.test.",
        "taname MX 10 mx-taname.dane.test.",
        "tadomain MX 10 mx-taname.dane.test.",
        "wrong MX 10 mx-wrong.dane.test.",
        "none MX 10 mx-none.dane.test.",
    ]
    signed_elsewhere = [*_hosts(v4, v6, "mx"), f"_25._tcp.mx TLSA 3 1 1 {leaf}", "@ MX 10 mx"]
    return {"dane.test": dane, "bogus.test": signed_elsewhere, "unsigned.test": signed_elsewhere}


def _zone(origin: str, records: list[str]) -> dns.zone.Zone:
    head = [
        f"$ORIGIN {origin}.",
        "$TTL 60",
        f"@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 60",
        f"@ NS ns.{origin}.",
        f"ns A {_DNS_ADDRESS}",
    ]
    return dns.zone.from_text("\n".join(head + records) + "\n", origin=f"{origin}.")


def write_zones(dns_dir: Path, chain_file: Path, v4: str, v6: str) -> dict[str, Path]:
    """Write the DANE zone files and the trust anchors under ``dns_dir``.

    ``chain_file``: the ``mxdane`` host's PEM chain (leaf, then intermediate), whose
    keys the TLSA records pin. Returns origin -> zone file.
    """
    leaf, intermediate = x509.load_pem_x509_certificates(chain_file.read_bytes())[:2]
    other = hashlib.sha256(b"a key nobody has").hexdigest()
    texts = _zone_texts(v4, v6, _spki_sha256(leaf), _spki_sha256(intermediate), other)
    now = dt.datetime.now(dt.UTC)
    anchors: list[str] = []
    files: dict[str, Path] = {}
    for origin, records in texts.items():
        zone = _zone(origin, records)
        if origin in SIGNED:
            key = ec.generate_private_key(ec.SECP256R1())
            dnskey = dns.dnssec.make_dnskey(
                key.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=257
            )
            if origin == "bogus.test":  # expired ten days ago: validation fails
                window = {
                    "inception": now - dt.timedelta(days=40),
                    "expiration": now - dt.timedelta(days=10),
                }
            else:
                window = {
                    "inception": now - dt.timedelta(hours=1),
                    "expiration": now + dt.timedelta(days=7),
                }
            dns.dnssec.sign_zone(zone, keys=[(key, dnskey)], **window)
            anchors.append(f"{origin}. 60 IN DNSKEY {dnskey.to_text()}")
        path = dns_dir / f"{origin}.zone"
        zone.to_file(str(path), relativize=False, want_origin=True)
        files[origin] = path
    (dns_dir / ANCHORS_FILE).write_text("\n".join(anchors) + "\n")
    return files


def unbound_conf(dns_dir: Path) -> str:
    """unbound.conf for the lab: validating, loopback only, NSD as the only upstream."""
    (dns_dir / "root.hints").write_text(
        # Root hints naming NSD's address (port 53, where nothing listens): unbound
        # never learns a real root server's address.
        f". 3600000 IN NS ns.lab.test.\nns.lab.test. 3600000 IN A {_DNS_ADDRESS}\n"
    )
    lines = [
        "server:",
        f"    interface: {_RESOLVER_ADDRESS}@{_RESOLVER_PORT}",
        f"    port: {_RESOLVER_PORT}",
        f"    outgoing-interface: {_RESOLVER_ADDRESS}",
        "    do-ip4: yes",
        "    do-ip6: no",
        "    do-udp: yes",
        "    do-tcp: yes",
        '    username: ""',
        '    chroot: ""',
        f'    directory: "{dns_dir}"',
        f'    pidfile: "{dns_dir}/unbound.pid"',
        f'    logfile: "{dns_dir}/unbound.log"',
        "    use-syslog: no",
        "    verbosity: 1",
        "    val-log-level: 2",
        "    num-threads: 1",
        "    so-reuseport: no",
        "    access-control: 127.0.0.0/8 allow",
        # NSD listens on loopback: unbound must be allowed to ask it.
        "    do-not-query-localhost: no",
        f'    root-hints: "{dns_dir}/root.hints"',
        f'    trust-anchor-file: "{dns_dir / ANCHORS_FILE}"',
        '    module-config: "validator iterator"',
        "    harden-dnssec-stripped: yes",
        "    val-permissive-mode: no",
        "    qname-minimisation: no",
        "    aggressive-nsec: no",
        "    edns-buffer-size: 1232",
        # Nothing but the lab's zones: everything else is refused before recursion.
        '    local-zone: "." refuse',
        *(f'    local-zone: "{zone}." transparent' for zone in STUB_ZONES),
        *(f'    domain-insecure: "{zone}."' for zone in ("lab.test", "unsigned.test")),
        "",
        "remote-control:",
        "    control-enable: no",
        "",
    ]
    for zone in STUB_ZONES:
        lines += [
            "stub-zone:",
            f'    name: "{zone}."',
            f"    stub-addr: {_DNS_ADDRESS}@{_DNS_PORT}",
            "",
        ]
    return "\n".join(lines)
