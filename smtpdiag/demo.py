"""``smtpdiag demo``: the whole pipeline against local servers, no internet needed.

A local authoritative DNS server answers for a few ``*.demo.test`` domains whose MX
hosts live on ``127.77.0.x`` loopback addresses, each running scripted SMTP servers with
real TLS from a throwaway CA. The ports are unprivileged stand-ins for 25, 587 and 465
(the same three numbers on every address, as with real MX hosts).

Demo domains and what each should show:

- ``healthy.demo.test``: one MX, STARTTLS on the two submission-style ports, implicit TLS
  on the third, valid certificate, an MTA-STS policy in mode enforce (served over HTTPS
  from ``mta-sts.healthy.demo.test``) and a TLS-RPT record: *healthy*.
- ``deadprimary.demo.test``: the preferred MX refuses every connection, the backup works:
  *degraded*, mail still deliverable.
- ``busy.demo.test``: the MX answers ``421 4.3.2`` to every connection: *failed*, 4.3.2.
- ``badcert.demo.test``: the MX presents an expired certificate: *degraded*, 4.7.5 (what
  senders verifying certificates by local policy log; opportunistic senders deliver).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shlex
import shutil
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

from .config import Nameserver, PolicyConfig, ProbeConfig, ResolverConfig, Timeouts, TlsConfig
from .model import AddressFamily, ProbeReport, Verdict
from .narrate.units import plural
from .testing.ports import pick_shared_ports
from .textsafe import clean

__all__ = [
    "DEMO_DOMAINS",
    "DemoDomain",
    "DemoLab",
    "demo_lab",
    "pick_shared_ports",
    "program_name",
    "summary_block",
    "summary_width",
]


def program_name() -> str:
    """How to run smtpdiag from a shell here: ``smtpdiag`` when it is on PATH.

    After ``make demo`` it lives in ``.venv/bin``, which is usually not on PATH; then
    the running script's path, or ``python -m smtpdiag`` with this interpreter.
    """
    if shutil.which("smtpdiag"):
        return "smtpdiag"
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) == "smtpdiag" and os.access(script, os.X_OK):
        # Absolute: the hint must work from any directory the user pastes it into.
        return shlex.quote(os.path.abspath(script))
    return f"{shlex.quote(os.path.abspath(sys.executable))} -m smtpdiag"


@dataclass(frozen=True, slots=True)
class DemoDomain:
    """One demo domain and the verdict the demo expects for it."""

    name: str
    expect: Verdict
    story: str


DEMO_DOMAINS: tuple[DemoDomain, ...] = (
    DemoDomain(
        "healthy.demo.test",
        Verdict.HEALTHY,
        "one MX, STARTTLS and implicit TLS, valid certificate, MTA-STS enforce",
    ),
    DemoDomain(
        "deadprimary.demo.test", Verdict.DEGRADED, "primary MX refuses connections, backup MX works"
    ),
    DemoDomain("busy.demo.test", Verdict.FAILED, "the MX answers 421 4.3.2 to every connection"),
    DemoDomain("badcert.demo.test", Verdict.DEGRADED, "the MX presents an expired certificate"),
)

# host name -> (loopback address, behaviour, certificate kind); None behaviour = nothing listens
_HOSTS: dict[str, tuple[str, str | None, str]] = {
    "mx1.healthy.demo.test": ("127.77.0.1", "healthy", "good"),
    "mx1.deadprimary.demo.test": ("127.77.0.2", None, "good"),
    "mx2.deadprimary.demo.test": ("127.77.0.3", "healthy", "good"),
    "mx.busy.demo.test": ("127.77.0.4", "greeting-421", "good"),
    "mx.badcert.demo.test": ("127.77.0.5", "healthy", "expired"),
}

#: The MTA-STS policy host's address (an HTTPS server on a port picked like the others).
_POLICY_ADDRESS = "127.77.0.9"

_ZONES: dict[str, dict[str, list[str]]] = {
    "healthy.demo.test": {
        "@": ["MX 10 mx1"],
        "mx1": ["A 127.77.0.1"],
        "_mta-sts": ['TXT "v=STSv1; id=20261202T000000"'],
        "mta-sts": [f"A {_POLICY_ADDRESS}"],
        "_smtp._tls": ['TXT "v=TLSRPTv1; rua=mailto:tlsrpt@healthy.demo.test"'],
    },
    "deadprimary.demo.test": {
        "@": ["MX 10 mx1", "MX 20 mx2"],
        "mx1": ["A 127.77.0.2"],
        "mx2": ["A 127.77.0.3"],
    },
    "busy.demo.test": {"@": ["MX 10 mx"], "mx": ["A 127.77.0.4"]},
    "badcert.demo.test": {"@": ["MX 10 mx"], "mx": ["A 127.77.0.5"]},
}


@dataclass(frozen=True, slots=True)
class DemoLab:
    """The running demo servers and how to reach them.

    Attributes:
        nameserver: The local DNS server answering for ``*.demo.test``.
        ports: The three ports, standing for 25, 587 and 465.
        implicit_tls_port: The port that speaks TLS from the first byte.
        ca_file: The demo CA bundle.
        mta_sts_port: The port of the MTA-STS policy host (HTTPS).
    """

    nameserver: Nameserver
    ports: tuple[int, int, int]
    implicit_tls_port: int
    ca_file: str
    mta_sts_port: int = 443

    def config(self, total: float = 10.0) -> ProbeConfig:
        """A probe configuration pointed at the demo servers, IPv4 only."""
        return ProbeConfig(
            ports=self.ports,
            families=(AddressFamily.IPV4,),
            implicit_tls_ports=(self.implicit_tls_port,),
            resolver=ResolverConfig((self.nameserver,)),
            tls=TlsConfig(ca_file=self.ca_file),
            timeouts=Timeouts(dns=2, connect=2, greeting=3, command=3, tls=3, total=total),
            ehlo_name="demo.smtpdiag.invalid",
            # The demo servers listen on loopback, and nowhere else.
            allow_targets=("127.0.0.0/8",),
            policy=PolicyConfig(https_port=self.mta_sts_port),
        )

    def profile(self) -> dict[str, object]:
        """The demo's probe settings as config-file keys (``smtpdiag demo --serve``
        writes them to a profile): what :meth:`config` sets, so that a command run with
        the profile probes as the demo did."""
        config = self.config()
        timeouts = config.timeouts
        return {
            "nameserver": [f"{self.nameserver.address}:{self.nameserver.port}"],
            "ports": list(self.ports),
            "implicit_tls_ports": [self.implicit_tls_port],
            "family": 4,
            "ca_file": self.ca_file,
            "allow_targets": list(config.allow_targets),
            "mta_sts_port": self.mta_sts_port,
            "ehlo_name": config.ehlo_name,
            "timeout": timeouts.total,
            "dns_timeout": timeouts.dns,
            "connect_timeout": timeouts.connect,
            "greeting_timeout": timeouts.greeting,
            "command_timeout": timeouts.command,
            "tls_timeout": timeouts.tls,
        }

    def command(self, domain: str) -> str:
        """The CLI command that probes ``domain`` against the demo servers by hand."""
        ports = ",".join(str(p) for p in self.ports)
        return (
            f"{program_name()} probe {domain}"
            f" --nameserver {self.nameserver.address}:{self.nameserver.port}"
            f" --ports {ports} --implicit-tls-ports {self.implicit_tls_port} -4"
            f" --ca-file {self.ca_file} --allow-targets 127.0.0.0/8"
            f" --mta-sts-port {self.mta_sts_port}"
        )


#: The summary's width when neither ``--width`` nor the terminal says (as the reports).
DEFAULT_WIDTH = 100
_MIN_WIDTH = 40
_LABEL = "    {:<8}"  # "    why:    " / "    action: ": the hanging indent of a block


def summary_width(width: int | None) -> int:
    """``width``, else the terminal's (100 when not a terminal), kept to 40-400."""
    if width is None:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(_MIN_WIDTH, min(400, width))


def _first_sentence(text: str) -> str:
    """The first sentence of ``text``: up to the first full stop followed by a space and
    a capital (host names and version numbers have no space after their dots)."""
    match = re.search(r"[.!?](?=\s+[A-Z(])", text)
    sentence = text[: match.end()] if match else text
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def _labelled(label: str, text: str, width: int) -> list[str]:
    indent = _LABEL.format(label)
    return textwrap.wrap(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=" " * len(indent),
        break_on_hyphens=False,
    )


def summary_block(report: ProbeReport, width: int = DEFAULT_WIDTH) -> list[str]:
    """A domain's lines in the demo's closing summary, none longer than ``width``.

    ``VERDICT  code  domain``, then the why (the first sentence of the leading finding's
    summary, as the narration wrote it) and the action (its one-line action), each
    wrapped under a hanging label. A healthy domain says how many routes work.
    """
    width = max(_MIN_WIDTH, width)
    diagnosis = report.diagnosis
    verdict = diagnosis.verdict.value.upper() if diagnosis else "NOT DIAGNOSED"
    code = (diagnosis.primary if diagnosis else None) or "-"
    head = textwrap.wrap(f"{verdict:<9} {code:<6} {report.domain}", width - 2)
    lines = [f"  {line}" for line in head]
    routes = len(report.routes)
    working = sum(1 for r in report.routes if r.ok)
    if diagnosis is None or not diagnosis.findings:
        why, action = f"{plural(working, 'route')} of {routes} work.", "none"
    elif diagnosis.verdict is Verdict.HEALTHY:
        why, action = f"Every route works ({working} of {routes}).", "none"
    else:
        lead = diagnosis.findings[0]
        why = _first_sentence(clean(lead.summary, 400))
        action = clean(lead.action.summary, 300) or "none"
    return lines + _labelled("why:", why, width) + _labelled("action:", action, width)


@contextlib.contextmanager
def demo_lab(seed: int | None = None) -> Iterator[DemoLab]:
    """Start the demo's DNS and SMTP servers in background threads; stop them on exit."""
    from .testing.certs import TestPki
    from .testing.dnsserver import ThreadedDnsServer
    from .testing.httpsserver import (
        PolicyHttpsServer,
        PolicyResponse,
        ThreadedPolicyServer,
        policy_text,
    )
    from .testing.smtpserver import Behaviour, ServerSet, ServerSpec

    rng = random.Random(seed)
    listening = [addr for addr, behaviour, _ in _HOSTS.values() if behaviour is not None]
    p25, p587, p465 = pick_shared_ports(listening, rng)
    policy_host = "mta-sts.healthy.demo.test"
    pki = TestPki(names=(*_HOSTS, policy_host))
    web = PolicyHttpsServer(
        pki,
        PolicyResponse(policy_text("enforce", ["mx1.healthy.demo.test"], 86400)),
        host=_POLICY_ADDRESS,
    )
    specs: list[ServerSpec] = []
    for host, (address, behaviour, cert) in _HOSTS.items():
        if behaviour is None:
            continue
        for port in (p25, p587, p465):
            specs.append(
                ServerSpec(
                    name=f"{host}:{port}",
                    behaviour=Behaviour(behaviour),
                    implicit_tls=port == p465,
                    cert=cert,
                    host=address,
                    hostname=host,
                    port=port,
                )
            )
    try:
        with (
            ServerSet(specs, pki=pki),
            ThreadedDnsServer(zones=_ZONES) as dns,
            ThreadedPolicyServer(web) as policy,
        ):
            yield DemoLab(
                nameserver=dns.nameserver,
                ports=(p25, p587, p465),
                implicit_tls_port=p465,
                ca_file=str(pki.ca_file),
                mta_sts_port=policy.port,
            )
    finally:
        pki.cleanup()
