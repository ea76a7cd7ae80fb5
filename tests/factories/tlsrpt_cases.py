"""TLS reports (RFC 8460) as senders write them, and the mail messages that carry them.

Layouts: the RFC's own example (Appendix B), and the field layouts large senders use
(a Google-style report: ``mx-host`` as an array, ``receiving-ip`` named; a
Microsoft-style one: ``no-policy-found``, ``receiving-mx-helo``, no policy string).
"""

from __future__ import annotations

import copy
import gzip
import json
import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import Any

__all__ = [
    "google_report",
    "gz",
    "microsoft_report",
    "report_message",
    "rfc_example",
    "write_maildir",
    "write_mbox",
]

_RFC: dict[str, Any] = {
    "organization-name": "Company-X",
    "date-range": {
        "start-datetime": "2016-04-01T00:00:00Z",
        "end-datetime": "2016-04-01T23:59:59Z",
    },
    "contact-info": "sts-reporting@company-x.example",
    "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
    "policies": [
        {
            "policy": {
                "policy-type": "sts",
                "policy-string": [
                    "version: STSv1",
                    "mode: testing",
                    "mx: *.mail.company-y.example",
                    "max_age: 86400",
                ],
                "policy-domain": "company-y.example",
                "mx-host": "*.mail.company-y.example",
            },
            "summary": {
                "total-successful-session-count": 5326,
                "total-failure-session-count": 303,
            },
            "failure-details": [
                {
                    "result-type": "certificate-expired",
                    "sending-mta-ip": "2001:db8:abcd:0012::1",
                    "receiving-mx-hostname": "mx1.mail.company-y.example",
                    "failed-session-count": 100,
                },
                {
                    "result-type": "starttls-not-supported",
                    "sending-mta-ip": "2001:db8:abcd:0013::1",
                    "receiving-mx-hostname": "mx2.mail.company-y.example",
                    "receiving-ip": "198.51.100.56",
                    "failed-session-count": 200,
                    "additional-information": "https://reports.company-x.example/"
                    "report_info?id=5065427c-23d3#StarttlsNotSupported",
                },
                {
                    "result-type": "validation-failure",
                    "sending-mta-ip": "198.51.100.62",
                    "receiving-ip": "198.51.100.58",
                    "receiving-mx-hostname": "mx-backup.mail.company-y.example",
                    "failed-session-count": 3,
                    "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED",
                },
            ],
        }
    ],
}


def rfc_example() -> dict[str, Any]:
    """RFC 8460 Appendix B, as printed (``mx-host`` a string), except that its receiving
    addresses are moved from TEST-NET-3 to TEST-NET-2 (this project never names the
    former, see tests/unit/test_no_outside_addresses.py)."""
    return copy.deepcopy(_RFC)


def google_report(
    domain: str,
    day: str = "2026-12-01",
    *,
    failures: list[dict[str, Any]] | None = None,
    ok: int = 1204,
    report_id: str | None = None,
) -> dict[str, Any]:
    """A report in the layout Google's sender uses (``mx-host`` an array)."""
    details = failures or []
    return {
        "organization-name": "Google Inc.",
        "date-range": {
            "start-datetime": f"{day}T00:00:00Z",
            "end-datetime": f"{day}T23:59:59Z",
        },
        "contact-info": "smtp-tls-reporting@sender-g.example",
        "report-id": report_id or f"{day}T00:00:00Z_{domain}",
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": ["version: STSv1", "mode: enforce", f"mx: *.{domain}"],
                    "policy-domain": domain,
                    "mx-host": [f"*.{domain}"],
                },
                "summary": {
                    "total-successful-session-count": ok,
                    "total-failure-session-count": sum(d["failed-session-count"] for d in details),
                },
                **({"failure-details": details} if details else {}),
            }
        ],
    }


def microsoft_report(domain: str, day: str = "2026-12-01") -> dict[str, Any]:
    """A report in the layout Microsoft's sender uses (no policy found, helo named)."""
    return {
        "organization-name": "Microsoft Corporation",
        "date-range": {
            "start-datetime": f"{day}T00:00:00Z",
            "end-datetime": f"{day}T23:59:59Z",
        },
        "contact-info": "tlsrpt-noreply@sender-m.example",
        "report-id": f"133781234567890123+{domain}",
        "policies": [
            {
                "policy": {"policy-type": "no-policy-found", "policy-domain": domain},
                "summary": {
                    "total-successful-session-count": 88,
                    "total-failure-session-count": 2,
                },
                "failure-details": [
                    {
                        "result-type": "validation-failure",
                        "sending-mta-ip": "2a01:111:f403:c200::1",
                        "receiving-mx-hostname": f"mx.{domain}",
                        "receiving-mx-helo": f"mx.{domain}",
                        "receiving-ip": "2001:db8::25",
                        "failed-session-count": 2,
                        "failure-reason-code": "certificate-chain-incomplete",
                    }
                ],
            }
        ],
    }


def gz(doc: dict[str, Any] | bytes) -> bytes:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return gzip.compress(raw)


def report_message(doc: dict[str, Any] | bytes, *, gzipped: bool = True) -> EmailMessage:
    """A report mail as RFC 8460 5.3 describes it: multipart/report;
    report-type=tlsrpt, a text part, the report attached."""
    msg = EmailMessage()
    org = doc.get("organization-name", "?") if isinstance(doc, dict) else "?"
    rid = doc.get("report-id", "?") if isinstance(doc, dict) else "?"
    msg["From"] = "tlsrpt@sender.example"
    msg["To"] = "tlsrpt@receiver.example"
    msg["Subject"] = f"Report Domain: receiver.example Submitter: {org} Report-ID: <{rid}>"
    msg["TLS-Report-Domain"] = "receiver.example"
    msg["TLS-Report-Submitter"] = str(org)
    msg.set_content("This is an aggregate TLS report.\n")
    if gzipped:
        msg.add_attachment(
            gz(doc), maintype="application", subtype="tlsrpt+gzip", filename="report.json.gz"
        )
    else:
        raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        msg.add_attachment(
            raw, maintype="application", subtype="tlsrpt+json", filename="report.json"
        )
    msg.replace_header("Content-Type", 'multipart/report; report-type="tlsrpt"')
    return msg


def write_mbox(path: Path, messages: list[EmailMessage]) -> Path:
    box = mailbox.mbox(str(path))
    for m in messages:
        box.add(m)
    box.flush()
    box.close()
    return path


def write_maildir(path: Path, messages: list[EmailMessage]) -> Path:
    box = mailbox.Maildir(str(path), create=True)
    for m in messages:
        box.add(m)
    box.flush()
    return path
