"""Example: a project asserting in its own test suite that its mail routes work.

The DNS server and the port come from the environment here because the servers are
loopback stand-ins started by the runner; a real project writes its domain and
``ports=(25,)`` and passes ``--smtpdiag-nameserver`` (or nothing: the system resolver).
"""

import os

from smtpdiag.health import HealthStatus, Thresholds
from smtpdiag.testing.assertions import assert_deliverable

PORT = int(os.environ["SMTPDIAG_PROJECT_PORT"])
TLS_PORT = int(os.environ["SMTPDIAG_PROJECT_TLS_PORT"])
CA_FILE = os.environ["SMTPDIAG_PROJECT_CA_FILE"]


def test_our_domain_is_deliverable(smtp_check):
    smtp_check.assert_deliverable(
        "ok.health.test", ports=[PORT], require_tls=True, families=["ipv4"]
    )


def test_backup_mx_is_enough(smtp_check):
    # The primary MX refuses connections; the backup works: still deliverable.
    result = smtp_check.assert_deliverable("degraded.health.test", ports=[PORT], families=["ipv4"])
    assert result.status is HealthStatus.WARNING


def test_health_result_fields(smtp_check):
    result = smtp_check(
        "ok.health.test",
        ports=[PORT, TLS_PORT],
        implicit_tls_ports=[TLS_PORT],
        families=["ipv4"],
        thresholds=Thresholds(require_implicit_tls=True),
    )
    assert result.ok, result.summary
    assert {r.port for r in result.routes} == {PORT, TLS_PORT}


def test_partner_domain_is_deliverable(smtp_check):
    # This one fails on purpose: the partner's MX answers 421 to every connection.
    smtp_check.assert_deliverable("busy.health.test", ports=[PORT], families=["ipv4"])


def test_plain_function_without_fixture():
    # Fails on purpose too: no STARTTLS, and TLS is required.
    ns = os.environ["SMTPDIAG_PROJECT_NAMESERVER"]
    assert_deliverable(
        "nostarttls.health.test",
        ports=[PORT],
        nameservers=[ns],
        timeout=5,
        ca_file=CA_FILE,
        families=["ipv4"],
    )
