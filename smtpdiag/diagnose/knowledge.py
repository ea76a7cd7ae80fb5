"""The seed knowledge as data: what each seed status code means, why it happens, how to
investigate it and what to do.

The four seeds (German originals in ``shared/seeds/``) win over any restatement:
``000`` = 4.4.2, ``001`` = 5.4.2, ``002`` = 4.3.2, ``003`` = 5.4.3. Every cause and step
keeps the seed's German label (``seed_label``) next to a faithful English text, so the
unit tests can check the data against the seed files. Neighbour codes the rules name
(4.4.1, 4.4.3, 5.4.4, 5.1.10) come from RFC 3463 / RFC 7505 and Postfix's usage; they are
marked ``from_seed=False``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import ActionKind, Severity

__all__ = [
    "KNOWLEDGE",
    "RFC5321_RETRY",
    "SEED_CODES",
    "Cause",
    "CodeKnowledge",
    "RetrySchedule",
    "StepSpec",
    "get",
]


@dataclass(frozen=True, slots=True)
class Cause:
    """One cause from a seed's "Häufige Ursachen" list.

    Attributes:
        id: Stable identifier, ``"<code>/<slug>"``.
        text: English, faithful to the seed's wording.
        seed_label: The seed's German label (``None`` for causes not from a seed list).
    """

    id: str
    text: str
    seed_label: str | None = None


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One investigation step (or one item of a checklist derived from the seed).

    Attributes:
        id: Stable identifier, ``"<code>/<slug>"``.
        text: English, faithful to the seed's wording.
        seed_label: The seed's German label.
        source: Where in the seed it comes from (e.g. ``"Untersuchungsschritte 1"``).
    """

    id: str
    text: str
    seed_label: str | None
    source: str


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """A seed's retry plan.

    Attributes:
        delays_s: Delay of each retry after the previous one (the first: after the
            bounce), in seconds. The last one is the final try.
        after_schedule: What to do when every retry failed, if the seed says.
    """

    delays_s: tuple[int, ...]
    after_schedule: str | None = None

    @property
    def offsets_s(self) -> tuple[int, ...]:
        """Cumulative delays from the bounce."""
        out: list[int] = []
        total = 0
        for d in self.delays_s:
            total += d
            out.append(total)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class CodeKnowledge:
    """Everything known about one status code beyond the registry.

    Attributes:
        code: ``"4.4.2"``.
        title: English title as the seed gives it.
        severity: Soft or hard bounce.
        category: "network/routing" or "mail system status".
        meaning: What the code means (seed wording).
        distinction: How it differs from its neighbour (seed wording), if given.
        required_action: The seed's "Erforderliche Aktion", if given.
        typical_replies: Replies providers send with it (seed "Häufige Antworten").
        examples: The seed's example bounce lines.
        causes: Causes in seed order.
        steps: Investigation steps in seed order (for 4.4.2 and 4.3.2: a checklist
            derived from the developer and best-practice sections; see ``steps_derived``).
        steps_derived: The seed has no "Untersuchungsschritte" section; ``steps`` were
            derived from its other sections.
        mx_analysis: 5.4.3 "MX-Record-Analyse" items.
        routing_analysis: 5.4.3 "Routing-Pfad-Analyse" items.
        actions_marketers: "Für E-Mail-Marketer" items (English).
        actions_developers: "Für Entwickler" items (English).
        best_practices: "Best Practices" items (English).
        retry: Retry schedule (soft bounces), else ``None``.
        action_kind: Retry or suppress.
        action_summary: One line: what to do on this bounce.
        neighbours: Related codes with why.
        from_seed: The entry comes from a seed (else from RFCs / MTA usage).
        source: The seed file name, or the RFC.
    """

    code: str
    title: str
    severity: Severity
    category: str
    meaning: str
    distinction: str | None
    required_action: str | None
    typical_replies: tuple[str, ...]
    examples: tuple[str, ...]
    causes: tuple[Cause, ...]
    steps: tuple[StepSpec, ...]
    steps_derived: bool
    mx_analysis: tuple[StepSpec, ...]
    routing_analysis: tuple[StepSpec, ...]
    actions_marketers: tuple[str, ...]
    actions_developers: tuple[str, ...]
    best_practices: tuple[str, ...]
    retry: RetrySchedule | None
    action_kind: ActionKind
    action_summary: str
    neighbours: tuple[tuple[str, str], ...]
    from_seed: bool
    source: str

    def cause(self, slug: str) -> Cause:
        """The cause ``<code>/<slug>``; raises KeyError if there is none."""
        for c in self.causes:
            if c.id == f"{self.code}/{slug}":
                return c
        raise KeyError(f"{self.code}/{slug}")

    @property
    def all_steps(self) -> tuple[StepSpec, ...]:
        """Investigation steps followed by the MX and routing-path analysis items."""
        return self.steps + self.mx_analysis + self.routing_analysis


_MIN = 60
_HOUR = 3600

# --------------------------------------------------------------------------- 4.4.2
# Seed 000. It has no "Untersuchungsschritte" section: the checklist below is derived
# from its "Für Entwickler" and "Best Practices" lists (each step names its source),
# keeping the seed's wording; only the steps a probe can carry out or a human must do.
_C442 = "4.4.2"
K_442 = CodeKnowledge(
    code=_C442,
    title="Connection failure",
    severity=Severity.SOFT,
    category="network/routing",
    meaning=(
        "A connection to the destination mail server was established, but then failed "
        "or was terminated before the message could be delivered. The connection "
        "problem may be temporary; send the message again later."
    ),
    distinction=("Unlike 4.4.1 (no answer), a connection was made (attempted) and then failed."),
    required_action="Resend after a delay (typically 30 minutes to a few hours).",
    typical_replies=(
        "451 4.4.2 Connection failure",
        "Connection dropped during transmission",
        "TLS handshake failed",
        "Connection timeout during handshake",
    ),
    examples=(
        "451 4.4.2 Connection failure",
        "451 4.4.2 <user@example.com>: Connection failure - connection dropped",
    ),
    causes=(
        Cause(
            f"{_C442}/connection-dropped",
            "Connection dropped: the connection was established but dropped before completion",
            "Verbindung abgebrochen",
        ),
        Cause(
            f"{_C442}/network-instability",
            "Network instability: unstable network conditions cause connection failures",
            "Netzwerkinstabilität",
        ),
        Cause(
            f"{_C442}/server-overloaded",
            "Server overloaded: the destination server closed the connection because of overload",
            "Server überlastet",
        ),
        Cause(
            f"{_C442}/tls-problems",
            "TLS/SSL problems: problems with the TLS/SSL handshake cause connection failures",
            "TLS/SSL-Probleme",
        ),
        Cause(
            f"{_C442}/port-blocked",
            "Port blocked: temporary blocking of SMTP ports (25, 587, 465)",
            "Port blockiert",
        ),
        Cause(
            f"{_C442}/firewall",
            "Firewall problems: firewall rules temporarily block or terminate connections",
            "Firewall-Probleme",
        ),
        Cause(
            f"{_C442}/proxy",
            "Proxy problems: problems with proxy servers on the connection path",
            "Proxy-Probleme",
        ),
        Cause(
            f"{_C442}/mtu",
            "MTU problems: Maximum Transmission Unit size problems cause packet fragmentation",
            "MTU-Probleme",
        ),
        Cause(
            f"{_C442}/connection-limit",
            "Connection limit: the destination server reached its connection limit and "
            "closed the connection",
            "Verbindungslimit",
        ),
        Cause(
            f"{_C442}/handshake-timeout",
            "Timeout during handshake: connection timeout during the SMTP handshake",
            "Timeout während Handshake",
        ),
    ),
    steps=(
        StepSpec(
            f"{_C442}/log-failure",
            "Log connection failures with details (host, phase, error) to identify causes",
            "Fehlerprotokollierung",
            "Für Entwickler 8",
        ),
        StepSpec(
            f"{_C442}/check-tls",
            "Check and configure TLS/SSL settings to ensure proper handshakes",
            "TLS-Konfiguration",
            "Für Entwickler 3; Best Practices 3",
        ),
        StepSpec(
            f"{_C442}/alternative-ports",
            "Retry with different connection settings, e.g. alternative SMTP ports when "
            "the default port fails",
            "Erneut versuchen mit unterschiedlichen Einstellungen",
            "Für Entwickler 5; Best Practices 7",
        ),
        StepSpec(
            f"{_C442}/timeouts",
            "Set appropriate connection and read/write timeouts to avoid hanging connections",
            "Timeout-Konfiguration",
            "Für Entwickler 7; Best Practices 5",
        ),
        StepSpec(
            f"{_C442}/patterns",
            "Analyse connection failures for patterns (specific hosts, networks, ...)",
            "Fehleranalyse",
            "Best Practices 6; Für E-Mail-Marketer 3",
        ),
        StepSpec(
            f"{_C442}/network-diagnostics",
            "Run network diagnostics if connection failures persist",
            "Netzwerkdiagnose",
            "Best Practices 8",
        ),
        StepSpec(
            f"{_C442}/contact-recipient",
            "If a recipient fails consistently, contact them to check the status of "
            "their mail server",
            "Empfänger kontaktieren",
            "Für E-Mail-Marketer 4",
        ),
    ),
    steps_derived=True,
    mx_analysis=(),
    routing_analysis=(),
    actions_marketers=(
        "Retry strategy: an automated retry that resends after 30 minutes to 2 hours",
        "Monitor retry success: track whether retries succeed; connection problems are "
        "often temporary",
        "Check delivery patterns: find whether certain domains or providers have "
        "consistent connection problems",
        "Contact the recipient: if a recipient fails consistently, contact them to check "
        "their mail server",
    ),
    actions_developers=(
        "Implement retry logic with appropriate delays (30 minutes to 2 hours) for 4.4.2",
        "Connection handling: improve connection handling code to manage failures better",
        "TLS configuration: check and configure TLS/SSL settings for proper handshakes",
        "Connection pooling: implement connection pooling with proper error handling",
        "Retry with different settings: consider retrying with different connection "
        "settings (e.g. different ports)",
        "Monitor connection metrics: track connection success rates and failure patterns",
        "Timeout configuration: set appropriate connect and read/write timeouts",
        "Error logging: log connection failures with details to identify causes",
    ),
    best_practices=(
        "Retry sooner: connection problems can resolve quickly; retry within 30 minutes to 2 hours",
        "Improve connection handling: robust handling with proper error recovery",
        "TLS/SSL configuration: ensure a proper TLS/SSL configuration",
        "Connection monitoring: monitor success rates and identify problematic hosts",
        "Timeout settings: configure appropriate timeouts to avoid hanging connections",
        "Error analysis: analyse failures for patterns (specific hosts, networks, ...)",
        "Alternative ports: consider retrying with alternative SMTP ports when the "
        "default port fails",
        "Network diagnostics: run network diagnostics when failures persist",
    ),
    # Seed: first retry 30 min after the bounce, then +1 h, +2 h, +4 h, last +24 h.
    retry=RetrySchedule((30 * _MIN, 1 * _HOUR, 2 * _HOUR, 4 * _HOUR, 24 * _HOUR)),
    action_kind=ActionKind.RETRY,
    action_summary="Soft bounce: retry after 30 minutes, then +1 h, +2 h, +4 h, last try +24 h.",
    neighbours=(("4.4.1", "no answer from host: nothing connected at all"),),
    from_seed=True,
    source="seeds/000_9535a186f0a30376.txt",
)

# --------------------------------------------------------------------------- 5.4.2
_C542 = "5.4.2"
K_542 = CodeKnowledge(
    code=_C542,
    title="Bad connection (permanent)",
    severity=Severity.HARD,
    category="network/routing",
    meaning=(
        "A connection to the destination mail server cannot be established or kept "
        "because of a permanent connection error; a persistent problem prevents it."
    ),
    distinction=("Unlike 4.4.2 (temporary), the connection problem persists and will not resolve."),
    required_action=(
        "Remove the address from your mailing list or investigate the connection problem."
    ),
    typical_replies=(
        "550 5.4.2 Bad connection",
        "Connection blocked - port not accessible",
        "Permanent TLS configuration mismatch",
        "Connection blocked by firewall policy",
    ),
    examples=(
        "550 5.4.2 Bad connection",
        "550 5.4.2 <user@example.com>: Bad connection - port permanently blocked",
    ),
    causes=(
        Cause(
            f"{_C542}/network-problems",
            "Permanent network problems prevent establishing a connection",
            "Dauerhafte Netzwerkprobleme",
        ),
        Cause(
            f"{_C542}/port-blocked",
            "Port permanently blocked: SMTP ports (25, 587, 465) are permanently blocked "
            "by the firewall",
            "Port dauerhaft blockiert",
        ),
        Cause(
            f"{_C542}/tls-mismatch",
            "TLS/SSL configuration mismatch: permanent TLS/SSL configuration problems "
            "prevent secure connections",
            "TLS/SSL-Konfigurationsmismatch",
        ),
        Cause(
            f"{_C542}/protocol-incompatibility",
            "Protocol incompatibility: permanent protocol incompatibility between the servers",
            "Protokollinkompatibilität",
        ),
        Cause(
            f"{_C542}/firewall-rules",
            "Firewall rules: permanent firewall rules block or terminate connections",
            "Firewall-Regeln",
        ),
        Cause(
            f"{_C542}/infrastructure",
            "Network infrastructure problems: permanent network infrastructure problems",
            "Netzwerkinfrastrukturprobleme",
        ),
        Cause(
            f"{_C542}/ip-blocked",
            "IP address blocking: your sending IP address is permanently blocked by the "
            "recipient's server",
            "IP-Adress-Blockierung",
        ),
        Cause(
            f"{_C542}/connection-policy",
            "Connection policy: permanent connection policies prevent establishing a connection",
            "Verbindungsrichtlinie",
        ),
        Cause(
            f"{_C542}/server-configuration",
            "Server configuration: permanent server configuration problems prevent connections",
            "Serverkonfiguration",
        ),
        Cause(
            f"{_C542}/network-path",
            "Network path problems: permanent routing or network path problems",
            "Netzwerkpfadprobleme",
        ),
    ),
    steps=(
        StepSpec(
            f"{_C542}/test-connection",
            "Test the connection: try to connect to the mail server manually to verify the problem",
            "Verbindung testen",
            "Untersuchungsschritte 1",
        ),
        StepSpec(
            f"{_C542}/check-firewall",
            "Check firewall rules: check whether firewall rules block connections",
            "Firewall-Regeln überprüfen",
            "Untersuchungsschritte 2",
        ),
        StepSpec(
            f"{_C542}/check-tls",
            "Check TLS/SSL: check the TLS/SSL configuration compatibility",
            "TLS/SSL überprüfen",
            "Untersuchungsschritte 3",
        ),
        StepSpec(
            f"{_C542}/alternative-ports",
            "Test alternative ports: try to connect on different SMTP ports (25, 587, 465)",
            "Alternative Ports testen",
            "Untersuchungsschritte 4",
        ),
        StepSpec(
            f"{_C542}/check-ip-block",
            "Check IP blocking: check whether your sending IP is blocked",
            "IP-Blockierung überprüfen",
            "Untersuchungsschritte 5",
        ),
        StepSpec(
            f"{_C542}/contact-support",
            "Contact support: contact the recipient's IT department, if possible",
            "Support kontaktieren",
            "Untersuchungsschritte 6",
        ),
    ),
    steps_derived=False,
    mx_analysis=(),
    routing_analysis=(),
    actions_marketers=(
        "Remove from list: remove the address from your active mailing list immediately",
        "Contact the recipient through alternative channels, if possible, to check their "
        "mail server configuration",
        "Document the problem: record which domains have permanent connection failures",
        "Check sender reputation: check whether your sending IP is blocked by the "
        "recipient's server",
        "Use alternative channels for important communication",
    ),
    actions_developers=(
        "Remove from database: remove the address from your sending database immediately",
        "Implement bounce handling: automated processing that removes 5.4.2 bounces",
        "Check connection configuration: connection settings, ports and TLS/SSL configuration",
        "Check IP status: check whether your sending IP is blocked by the recipient's server",
        "Suppression list: add these addresses to a suppression list to prevent future sends",
        "Log connection problems: track which servers have permanent connection problems",
        "Test alternative ports: test, if possible, whether alternative SMTP ports work",
    ),
    best_practices=(
        "Never retry: do not resend to addresses rejected with 5.4.2; they will keep failing",
        "Remove immediately: remove addresses with 5.4.2 bounces from your list immediately",
        "Check configuration: check your connection configuration for compatibility problems",
        "Use suppression lists to avoid sending to servers with connection problems",
        "Monitor IP status: monitor whether your sending IP addresses get blocked",
        "Test connections: periodically test connections to check server accessibility",
        "Document problems: keep records of domains with permanent connection problems",
        "Contact administrators: contact server administrators to fix configuration problems",
    ),
    retry=None,
    action_kind=ActionKind.SUPPRESS,
    action_summary=(
        "Hard bounce: never retry; suppress the address, document the domain, check your "
        "sending IP's reputation, test the connection periodically."
    ),
    neighbours=(("4.4.2", "the temporary form"), ("4.4.1", "no answer: nothing connected")),
    from_seed=True,
    source="seeds/001_680ccbc2858a7e52.txt",
)

# --------------------------------------------------------------------------- 4.3.2
# Seed 002 lost its headings: its first list matches the developer lists of the other
# seeds ("Wiederholungslogik implementieren", ...), so it is encoded as developer
# actions; it has no marketer list, no cause list and no "Untersuchungsschritte". The
# causes come from its meaning sentence (maintenance, network problems, overload); the
# checklist is derived from its developer and best-practice items.
_C432 = "4.3.2"
K_432 = CodeKnowledge(
    code=_C432,
    title="System not accepting network messages",
    severity=Severity.SOFT,
    category="mail system status",
    meaning=(
        "The receiving mail server is temporarily not accepting network messages, "
        "typically during server maintenance, network problems or system overload. "
        "Usually a temporary condition that resolves once the server problem is fixed."
    ),
    distinction=None,
    required_action=None,
    typical_replies=(),
    examples=(),
    causes=(
        Cause(
            f"{_C432}/maintenance",
            "Server maintenance: the receiving server is in maintenance",
            "Serverwartung",
        ),
        Cause(
            f"{_C432}/network-problems",
            "Network problems on the receiving side",
            "Netzwerkproblemen",
        ),
        Cause(
            f"{_C432}/overload",
            "System overload: the receiving system is overloaded",
            "Systemüberlastung",
        ),
    ),
    steps=(
        StepSpec(
            f"{_C432}/identify-servers",
            "Log system patterns: track which mail servers often have availability problems",
            "System-Muster protokollieren",
            "developer list 4; Best Practices 'Muster überwachen'",
        ),
        StepSpec(
            f"{_C432}/respect-rate-limits",
            "Respect rate limits: make sure retry logic does not overload the receiving server",
            "Rate Limits respektieren",
            "developer list 5; Best Practices 'Nicht überlasten'",
        ),
        StepSpec(
            f"{_C432}/track-metrics",
            "Track metrics: monitor how often 4.3.2 bounces occur to identify problematic "
            "mail servers",
            "Metriken verfolgen",
            "Best Practices 'Metriken verfolgen'",
        ),
        StepSpec(
            f"{_C432}/alternative-channels",
            "Consider alternative channels: for urgent communication, use alternative "
            "contact methods",
            "Alternative Kanäle in Betracht ziehen",
            "Best Practices 'Alternative Kanäle in Betracht ziehen'",
        ),
    ),
    steps_derived=True,
    mx_analysis=(),
    routing_analysis=(),
    actions_marketers=(),
    actions_developers=(
        "Implement retry logic: exponential backoff retry logic for 4.3.2 bounces",
        "Track retry count: monitor how often you resent to addresses with unavailable systems",
        "Set retry limits: a maximum number of retries (typically 3-5) before marking failed",
        "Log system patterns: track which mail servers often have availability problems",
        "Respect rate limits: make sure retry logic does not overload the receiving server",
    ),
    best_practices=(
        "Retry with backoff: use exponential backoff when retrying 4.3.2 bounces",
        "Do not overload: stagger retries so as not to overload the receiving server",
        "Monitor patterns: track which mail servers often have availability problems",
        "Be patient: system problems are usually fixed within hours",
        "Consider alternative channels: for urgent communication use alternative contact methods",
        "Track metrics: monitor the frequency of 4.3.2 bounces to identify problematic servers",
        "Maintain list quality: if a system stays unavailable after several retries, "
        "consider removing the address temporarily",
    ),
    # Seed: 1 h after the bounce, then +4 h, +12 h, last try +24 h after the third.
    retry=RetrySchedule(
        (1 * _HOUR, 4 * _HOUR, 12 * _HOUR, 24 * _HOUR),
        after_schedule=(
            "If the system is still unavailable after all retries, consider removing the "
            "address temporarily from your active list or marking it unavailable."
        ),
    ),
    action_kind=ActionKind.RETRY,
    action_summary="Soft bounce: retry after 1 h, then +4 h, +12 h, last try +24 h.",
    neighbours=(),
    from_seed=True,
    source="seeds/002_bc0807d36aeab382.txt",
)

# --------------------------------------------------------------------------- 5.4.3
_C543 = "5.4.3"
K_543 = CodeKnowledge(
    code=_C543,
    title="Routing server failure (permanent)",
    severity=Severity.HARD,
    category="network/routing",
    meaning=(
        "An intermediate routing server failed permanently and cannot forward messages: "
        "a persistent problem with the routing infrastructure prevents delivery."
    ),
    distinction=(
        "Unlike 4.4.3 (temporary), the routing server failure is permanent and will not resolve."
    ),
    required_action=(
        "Remove the address from your mailing list or investigate routing alternatives."
    ),
    typical_replies=(
        "550 5.4.3 Routing server failure",
        "Intermediate routing server permanently unavailable",
        "Mail routing path includes permanently failed server",
        "Routing infrastructure permanently unavailable",
    ),
    examples=(
        "550 5.4.3 Routing server failure",
        "550 5.4.3 <user@example.com>: Routing server failure - intermediate server "
        "permanently down",
    ),
    causes=(
        Cause(
            f"{_C543}/server-shut-down",
            "Routing server permanently shut down: an intermediate routing server was "
            "permanently shut down",
            "Routing-Server dauerhaft abgeschaltet",
        ),
        Cause(
            f"{_C543}/decommissioned",
            "Server decommissioned: the routing server was taken out of service and no "
            "longer works",
            "Server außer Betrieb genommen",
        ),
        Cause(
            f"{_C543}/configuration",
            "Permanent configuration problems: permanent misconfiguration of routing rules "
            "or server settings",
            "Dauerhafte Konfigurationsprobleme",
        ),
        Cause(
            f"{_C543}/dns-invalid",
            "DNS permanently invalid: DNS records point at routing servers that no longer exist",
            "DNS dauerhaft ungültig",
        ),
        Cause(
            f"{_C543}/infrastructure",
            "Network infrastructure failure: permanent network infrastructure problems "
            "affecting routing",
            "Netzwerkinfrastrukturfehler",
        ),
        Cause(
            f"{_C543}/mx-records",
            "MX record problems: MX records point at permanently unavailable routing servers",
            "MX-Record-Probleme",
        ),
        Cause(
            f"{_C543}/migration",
            "Routing server migration: a migration finished with the old servers permanently "
            "offline",
            "Routing-Server-Migration",
        ),
        Cause(
            f"{_C543}/abandoned",
            "Abandoned routing infrastructure: the routing infrastructure was abandoned",
            "Verlassene Routing-Infrastruktur",
        ),
        Cause(
            f"{_C543}/resource-exhaustion",
            "Permanent resource exhaustion: the routing server has permanently exhausted "
            "its resources",
            "Dauerhafte Ressourcenerschöpfung",
        ),
        Cause(
            f"{_C543}/critical-failure",
            "Critical routing failure: a critical failure in the routing infrastructure "
            "that cannot be fixed",
            "Kritischer Routing-Fehler",
        ),
    ),
    steps=(
        StepSpec(
            f"{_C543}/check-mx",
            "Check MX records: check that the MX records are valid and point at active "
            "routing servers",
            "MX-Records überprüfen",
            "Untersuchungsschritte 1",
        ),
        StepSpec(
            f"{_C543}/trace-path",
            "Test the routing path: try to trace the routing path to identify failed servers",
            "Routing-Pfad testen",
            "Untersuchungsschritte 2",
        ),
        StepSpec(
            f"{_C543}/domain-status",
            "Check domain status: check whether the domain is still active and has routing "
            "configured",
            "Domänenstatus überprüfen",
            "Untersuchungsschritte 3",
        ),
        StepSpec(
            f"{_C543}/contact-support",
            "Contact support: contact the recipient's IT department, if possible",
            "Support kontaktieren",
            "Untersuchungsschritte 4",
        ),
        StepSpec(
            f"{_C543}/document-pattern",
            "Document patterns: record whether several addresses at the same domain are affected",
            "Muster dokumentieren",
            "Untersuchungsschritte 5",
        ),
        StepSpec(
            f"{_C543}/alternative-routes",
            "Check alternative routes: see whether alternative MX records provide working routes",
            "Alternative Routen überprüfen",
            "Untersuchungsschritte 6",
        ),
    ),
    steps_derived=False,
    mx_analysis=(
        StepSpec(
            f"{_C543}/mx-preferences",
            "Check the MX record priorities",
            "Überprüfen Sie MX-Record-Prioritäten",
            "MX-Record-Analyse 1",
        ),
        StepSpec(
            f"{_C543}/mx-valid",
            "Check that all MX records are valid",
            "Überprüfen Sie, ob alle MX-Records gültig sind",
            "MX-Record-Analyse 2",
        ),
        StepSpec(
            f"{_C543}/mx-connectivity",
            "Test connectivity to each MX record",
            "Testen Sie die Konnektivität zu jedem MX-Record",
            "MX-Record-Analyse 3",
        ),
        StepSpec(
            f"{_C543}/mx-identify-failed",
            "Identify which routing servers failed",
            "Identifizieren Sie, welche Routing-Server fehlgeschlagen sind",
            "MX-Record-Analyse 4",
        ),
    ),
    routing_analysis=(
        StepSpec(
            f"{_C543}/path-trace",
            "Trace the path from your server to the destination",
            "Verfolgen Sie den Pfad von Ihrem Server zum Ziel",
            "Routing-Pfad-Analyse 1",
        ),
        StepSpec(
            f"{_C543}/path-intermediates",
            "Identify intermediate routing servers",
            "Identifizieren Sie zwischengeschaltete Routing-Server",
            "Routing-Pfad-Analyse 2",
        ),
        StepSpec(
            f"{_C543}/path-failed-server",
            "Determine which server on the path failed",
            "Bestimmen Sie, welcher Server im Pfad fehlgeschlagen ist",
            "Routing-Pfad-Analyse 3",
        ),
        StepSpec(
            f"{_C543}/path-alternatives",
            "Check whether alternative routes exist",
            "Überprüfen Sie, ob alternative Routen existieren",
            "Routing-Pfad-Analyse 4",
        ),
    ),
    actions_marketers=(
        "Remove from list: remove the address from your active mailing list immediately",
        "Check domain status: check whether the domain and its routing infrastructure "
        "are still active",
        "Contact the recipient through alternative channels, if possible, to check their "
        "mail routing",
        "Document the problem: record which domains have permanent routing failures",
        "Monitor for recovery: check periodically whether the problem was fixed (though unlikely)",
        "Use alternative channels for important communication",
    ),
    actions_developers=(
        "Remove from database: remove the address from your sending database immediately",
        "Implement bounce handling: automated processing that removes 5.4.3 bounces",
        "Check MX records to identify routing server problems",
        "Suppression list: add these addresses to a suppression list to prevent future sends",
        "Monitor domain status: check periodically whether domains with 5.4.3 fixed their problems",
        "Log routing patterns: track which routing servers fail permanently",
        "DNS validation: validate DNS and MX records for affected domains",
    ),
    best_practices=(
        "Never retry: do not resend to addresses rejected with 5.4.3; they will keep failing",
        "Remove immediately: remove addresses with 5.4.3 bounces from your list immediately",
        "Check MX records to understand the routing configuration",
        "Use suppression lists to avoid sending to domains with routing failures",
        "Monitor domain health: track domains with permanent routing infrastructure problems",
        "Check alternative routes: check whether alternative MX records provide working routes",
        "Document problems: keep records of domains with permanent routing failures",
        "Contact administrators: contact domain administrators when routing problems "
        "affect important communication",
    ),
    retry=None,
    action_kind=ActionKind.SUPPRESS,
    action_summary=(
        "Hard bounce: never retry; suppress the address, validate DNS and MX records, "
        "check the domain periodically in case it was fixed."
    ),
    neighbours=(
        ("4.4.3", "the temporary form (RFC 3463: directory server failure)"),
        ("5.4.4", "unable to route: Postfix's code for an MX host that does not exist"),
        ("4.4.1", "no answer from host: Postfix's code for a failed connect"),
    ),
    from_seed=True,
    source="seeds/003_2140d5bcb7211fbd.txt",
)

# ------------------------------------------------------------- neighbours (not seeds)
# Not from the seeds: RFC 3463 / RFC 7505 wording and how Postfix uses them. They carry
# no seed causes or steps; schedules follow RFC 5321 4.5.4.1 (retry no sooner than
# every 30 minutes, give up after at least 4-5 days).
#: Retry plan for soft codes without a seed schedule (RFC 5321 4.5.4.1).
RFC5321_RETRY = RetrySchedule(
    (30 * _MIN, 30 * _MIN, 1 * _HOUR, 2 * _HOUR, 4 * _HOUR),
    after_schedule=(
        "RFC 5321 4.5.4.1: keep retrying at intervals of at least 30 minutes for 4-5 "
        "days before giving up."
    ),
)


def _neighbour(
    code: str,
    title: str,
    meaning: str,
    severity: Severity,
    action_kind: ActionKind,
    action_summary: str,
    source: str,
    neighbours: tuple[tuple[str, str], ...] = (),
) -> CodeKnowledge:
    return CodeKnowledge(
        code=code,
        title=title,
        severity=severity,
        category="network/routing" if ".4." in code else "addressing",
        meaning=meaning,
        distinction=None,
        required_action=None,
        typical_replies=(),
        examples=(),
        causes=(),
        steps=(),
        steps_derived=False,
        mx_analysis=(),
        routing_analysis=(),
        actions_marketers=(),
        actions_developers=(),
        best_practices=(),
        retry=RFC5321_RETRY if action_kind is ActionKind.RETRY else None,
        action_kind=action_kind,
        action_summary=action_summary,
        neighbours=neighbours,
        from_seed=False,
        source=source,
    )


K_441 = _neighbour(
    "4.4.1",
    "No answer from host",
    "The connection attempt was not answered: nothing connected at all (refused, "
    "timed out or unreachable). Postfix reports a failed connect this way.",
    Severity.SOFT,
    ActionKind.RETRY,
    "Soft bounce (not from the seeds): retry per RFC 5321 4.5.4.1.",
    "RFC 3463 3.5; Postfix",
    (("4.4.2", "a connection was made, then failed"),),
)
K_443 = _neighbour(
    "4.4.3",
    "Directory server failure (routing server failure, temporary)",
    "A directory server, such as a DNS server, was unavailable, so the next hop could "
    "not be found (e.g. SERVFAIL or no DNS answer). RFC 3463 describes X.4.3 as "
    "transient only; the seeds name it the temporary form of 5.4.3.",
    Severity.SOFT,
    ActionKind.RETRY,
    "Soft bounce (not from the seeds): a DNS failure is transient; retry per RFC 5321 "
    "4.5.4.1, never treat it as a hard bounce.",
    "RFC 3463 3.5",
    (("5.4.3", "the permanent form (seed 003)"),),
)
K_544 = _neighbour(
    "5.4.4",
    "Unable to route",
    "The next hop could not be determined: the routing information does not exist "
    "(e.g. the domain or its MX host has no address). Postfix reports 'Host or domain "
    "name not found' as 5.4.4.",
    Severity.HARD,
    ActionKind.SUPPRESS,
    "Hard bounce (not from the seeds): do not retry; validate the domain's DNS.",
    "RFC 3463 3.5; Postfix",
    (("5.4.3", "routing server failure (seed 003)"), ("5.1.2", "bad destination system")),
)
K_5110 = _neighbour(
    "5.1.10",
    "Recipient address has null MX",
    "The domain publishes a null MX ('0 .', RFC 7505 section 3): it accepts no mail at "
    "all. Senders must not attempt delivery.",
    Severity.HARD,
    ActionKind.SUPPRESS,
    "The domain accepts no mail: never retry, suppress every address at it.",
    "RFC 7505",
)

#: Code -> knowledge: the four seed codes and the neighbours the rules name.
KNOWLEDGE: dict[str, CodeKnowledge] = {
    k.code: k for k in (K_442, K_542, K_432, K_543, K_441, K_443, K_544, K_5110)
}

#: The codes this tool is built around (the seeds), in seed-file order.
SEED_CODES: tuple[str, ...] = ("4.4.2", "5.4.2", "4.3.2", "5.4.3")


def get(code: str | None) -> CodeKnowledge | None:
    """The knowledge for ``code``, or ``None`` if there is none."""
    if code is None:
        return None
    return KNOWLEDGE.get(code)
