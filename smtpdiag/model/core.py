"""The observation vocabulary every stage shares.

Everything here is plain, frozen data: the resolve and probe stages produce it, the
diagnose stage reads it and adds findings, the report stage renders it. Nothing here
does I/O. Enums are ``StrEnum`` so that their JSON form is stable.

Durations and offsets are milliseconds as ``float`` (monotonic clock); wall-clock
instants are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NewType

from .action import SCHEMA_VERSION, Action, ActionKind, RetryAttempt, Severity
from .dns import DnsOutcome, MxTargetKind, Resolution, ResolutionKind
from .policy import DaneCheck, SenderImpact, SenderKind, TlsPolicy, TlsRptResult
from .vantage import AddressNames, FaultSide, Vantage

__all__ = [
    "SCHEMA_VERSION",
    "Action",
    "ActionKind",
    "AddressClass",
    "AddressFamily",
    "CauseId",
    "CertInfo",
    "Diagnosis",
    "Evidence",
    "Finding",
    "FindingPayload",
    "MssRetry",
    "MssRetryResult",
    "Outcome",
    "Persistence",
    "Phase",
    "PhaseRecord",
    "ProbeReport",
    "ReplyHint",
    "RetryAttempt",
    "Route",
    "RouteResult",
    "RuleId",
    "Severity",
    "SkipReason",
    "SmtpReply",
    "Step",
    "StepId",
    "StepStatus",
    "TlsInfo",
    "TlsMode",
    "TlsReason",
    "Verdict",
]


# ------------------------------------------------------------------------- probe


class AddressFamily(StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"


class TlsMode(StrEnum):
    """How TLS is expected on a port."""

    STARTTLS = "starttls"  #: plain greeting, TLS upgraded via STARTTLS (25, 587; RFC 3207)
    IMPLICIT = "implicit"  #: TLS from the first byte (465; RFC 8314)


class Phase(StrEnum):
    """The phases of one route probe, in the order they can happen."""

    CONNECT = "connect"  #: TCP three-way handshake
    TLS_HANDSHAKE = (
        "tls-handshake"  #: TLS handshake (right after connect on 465, after STARTTLS elsewhere)
    )
    GREETING = "greeting"  #: waiting for the server's 220 banner
    EHLO = "ehlo"
    HELO = "helo"  #: only when EHLO was rejected
    STARTTLS = "starttls"  #: the STARTTLS command and its reply
    EHLO_TLS = "ehlo-tls"  #: EHLO repeated inside TLS (RFC 3207 4.2)
    QUIT = "quit"


class Outcome(StrEnum):
    """How a phase ended."""

    OK = "ok"
    TIMEOUT = "timeout"  #: the phase's own limit or the overall deadline expired
    REFUSED = "refused"  #: TCP RST to the SYN (ECONNREFUSED)
    UNREACHABLE = "unreachable"  #: ICMP unreachable, no route (EHOSTUNREACH, ENETUNREACH)
    RESET = "reset"  #: the peer reset an established connection
    CLOSED = "closed"  #: the peer closed the connection (EOF) without an SMTP reply
    TLS_FAILURE = "tls-failure"  #: the TLS handshake failed; see ``PhaseRecord.detail``
    REPLY = "reply"  #: the server answered with a negative SMTP reply; see ``PhaseRecord.reply``
    ERROR = "error"  #: any other local or protocol error (e.g. garbage instead of SMTP)
    NOT_ATTEMPTED = "not-attempted"  #: never tried; see ``PhaseRecord.skip_reason``


class TlsReason(StrEnum):
    """Why a TLS handshake or the certificate check failed, as the adapter knew it.

    Set by the probe from exception attributes (``ssl.SSLError.reason``, the alert,
    ``verify_code``), never parsed back from text.
    """

    NOT_TLS = "not-tls"  #: the peer did not speak TLS (e.g. plaintext SMTP on 465)
    PROTOCOL_VERSION = "protocol-version"  #: no protocol version in common
    CIPHER = "cipher"  #: no cipher suite / group / signature algorithm in common
    ALERT = "alert"  #: the server sent a fatal alert; see ``PhaseRecord.tls_alert``
    CERT_UNTRUSTED = "cert-untrusted"  #: no chain to a trusted root (or self-signed)
    CERT_EXPIRED = "cert-expired"  #: expired or not yet valid
    CERT_WRONG_NAME = "cert-wrong-name"  #: does not name the MX host
    CERT_WEAK_KEY = "cert-weak-key"  #: key too small (RSA/DSA < 2048 bits, EC < 224)
    RESET = "reset"  #: connection reset during the handshake
    CLOSED = "closed"  #: the peer closed the connection during the handshake
    TIMEOUT = "timeout"  #: the handshake did not finish in time
    OTHER = "other"  #: any other handshake failure


class SkipReason(StrEnum):
    """Why a route (or phase) was not attempted. A skipped route is never evidence."""

    DEADLINE = "deadline"  #: the overall deadline passed before its turn came
    ADDRESS_POLICY = "address-policy"  #: the address is not one the probe may connect to
    # No "family-filter": an address excluded by -4/-6 is not planned at all; the
    # family-filtered finding names it (the user chose the family, nothing was skipped).


class AddressClass(StrEnum):
    """What kind of address an MX address is (RFC 6890 special-purpose registries)."""

    GLOBAL = "global"  #: global unicast: reachable from the Internet
    LOOPBACK = "loopback"  #: 127.0.0.0/8, ::1
    PRIVATE = "private"  #: RFC 1918, RFC 6598 shared, fc00::/7 unique local
    LINK_LOCAL = "link-local"  #: 169.254.0.0/16, fe80::/10
    UNSPECIFIED = "unspecified"  #: 0.0.0.0/8, ::
    BROADCAST = "broadcast"  #: 255.255.255.255
    MULTICAST = "multicast"  #: 224.0.0.0/4, ff00::/8
    DOCUMENTATION = "documentation"  #: RFC 5737 / RFC 3849 / RFC 2544 benchmarking
    RESERVED = "reserved"  #: anything else not globally routable (240/4, IPv4-mapped, ...)


class ReplyHint(StrEnum):
    """What a negative reply's text says, classified once where the reply is read."""

    #: a 450/451 whose text names greylisting ("greylisted", "try again later" with
    #: 4.7.1/4.2.0 ...): a normal defence, the retry after the greylist delay succeeds
    GREYLIST = "greylist"
    #: a reply whose text says the client's address is on a blocklist ("listed",
    #: "blocked using", "RBL", "DNSBL", "Spamhaus" ...)
    LISTED = "listed"


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """An SMTP reply as received.

    Attributes:
        code: The three-digit basic reply code (RFC 5321 4.2).
        enhanced: The enhanced status code ``"c.s.d"`` if the text starts with one (RFC 2034).
        text: Reply text, lines joined by newlines, control characters removed, truncated.
        hint: What the text of a negative reply (4xx/5xx) says, when it says one of the
            :class:`ReplyHint` things; ``None`` otherwise (always for 2xx/3xx).
    """

    code: int
    enhanced: str | None
    text: str
    hint: ReplyHint | None = None


@dataclass(frozen=True, slots=True)
class PhaseRecord:
    """One phase of a route probe: when it ran, how long, and how it ended.

    Attributes:
        phase: Which phase.
        outcome: How it ended.
        start_ms: Offset from the start of the route probe.
        duration_ms: Time the phase took, also when it failed or timed out.
        reply: The SMTP reply read in this phase, if any (also for ``ok`` phases).
        detail: Sanitized error text when not ``ok``, for display only: no later stage
            reads it; else ``None``.
        error_type: Name of the exception type behind a failure, for debugging; else ``None``.
        errno: The OS errno behind a socket-level failure (``ECONNREFUSED``,
            ``EHOSTUNREACH``, ``EPERM`` for a local firewall ...); else ``None``.
        tls_reason: Why the TLS handshake failed: set on every failed ``tls-handshake``
            phase (also when it ended ``reset``, ``closed`` or ``timeout``: then the
            reason says the same) and on any ``tls-failure`` outcome; else ``None``.
        tls_alert: The name of the TLS alert the server sent (RFC 8446 6.2 spelling:
            ``"internal_error"``, ``"handshake_failure"``, ``"protocol_version"``)
            whenever the failure was a received alert; ``tls_reason`` is then
            ``alert``, or ``protocol-version`` / ``cipher`` when the alert says that;
            else ``None``.
        skip_reason: Why the phase was never attempted (``not-attempted``); else ``None``.
    """

    phase: Phase
    outcome: Outcome
    start_ms: float
    duration_ms: float
    reply: SmtpReply | None = None
    detail: str | None = None
    error_type: str | None = None
    errno: int | None = None
    tls_reason: TlsReason | None = None
    tls_alert: str | None = None
    skip_reason: SkipReason | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True, slots=True)
class CertInfo:
    """Facts about the server's leaf certificate.

    Attributes:
        subject: RFC 4514 string of the subject.
        issuer: RFC 4514 string of the issuer.
        sans: DNS names and IP addresses from subjectAltName.
        serial: Serial number in hex.
        not_before: ISO 8601 UTC.
        not_after: ISO 8601 UTC.
        days_left: Whole days from the probe to ``not_after`` (negative when expired).
        key_type: "RSA", "EC", "Ed25519", ...
        key_bits: Key size in bits, or ``None`` where it does not apply.
        sha256: SHA-256 fingerprint of the DER encoding, lower-case hex with colons.
        self_signed: Subject equals issuer.
        sans_omitted: SAN entries beyond the kept ones (0 when all are listed).
    """

    subject: str
    issuer: str
    sans: tuple[str, ...]
    serial: str
    not_before: str
    not_after: str
    days_left: int
    key_type: str
    key_bits: int | None
    sha256: str
    self_signed: bool
    sans_omitted: int = 0


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What the TLS handshake negotiated and what the certificate check showed.

    Attributes:
        version: Protocol version ("TLSv1.3", ...), ``None`` if the handshake failed.
        cipher: Negotiated cipher suite name, ``None`` if the handshake failed.
        cipher_bits: Secret bits of the cipher.
        certificate: The leaf certificate, also when verification failed; ``None`` if
            the server sent none or the handshake failed before it.
        chain_length: Number of certificates the server sent (0 if unknown).
        verified: The chain verifies against the trust store (system or ``--ca-file``)
            and the leaf key is strong enough.
        verify_error: Why verification failed, for display; ``None`` when verified.
            Only certificate verification goes here, never a handshake failure.
        verify_reason: Why verification failed, as a value: one of the ``cert-*``
            members of :class:`TlsReason`, or ``other`` when the chain could not be
            judged (it was cut at the cap, see ``chain_truncated``, or a parser path
            failed); ``None`` when verified.
        chain_truncated: The server sent more certificates than the probe checks
            (10); ``chain_length`` is the number it sent.
        hostname_match: The certificate names the MX host (RFC 6125 rules); ``None``
            when there was no certificate.
        dane: The presented chain matched against the MX host's usable TLSA records
            (RFC 7672); ``None`` when the host has none or policy lookups were off.
    """

    version: str | None = None
    cipher: str | None = None
    cipher_bits: int | None = None
    certificate: CertInfo | None = None
    chain_length: int = 0
    verified: bool = False
    verify_error: str | None = None
    hostname_match: bool | None = None
    verify_reason: TlsReason | None = None
    chain_truncated: bool = False
    dane: DaneCheck | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """One way a sender could deliver: an MX host, one of its addresses, one port.

    Attributes:
        mx: MX host name.
        preference: The MX preference (0 for implicit MX).
        rank: Preference group, 1 = most preferred.
        address: IP address as text.
        family: Address family.
        port: TCP port.
        tls_mode: STARTTLS or implicit TLS.
        address_class: What kind of address it is; only ``global`` addresses (and those
            inside ``--allow-targets``) are connected to.
        allowed: The address lies inside an explicitly allowed network (``--allow-targets``).
    """

    mx: str
    preference: int
    rank: int
    address: str
    family: AddressFamily
    port: int
    tls_mode: TlsMode
    address_class: AddressClass = AddressClass.GLOBAL
    allowed: bool = False

    @property
    def label(self) -> str:
        """``mx[address]:port``: a short name for humans and metric labels."""
        host = f"[{self.address}]"
        return f"{self.mx}{host}:{self.port}"


class MssRetryResult(StrEnum):
    """How a TLS handshake repeated with a small maximum segment size ended."""

    COMPLETED = "completed"  #: the handshake completed on the small-MSS connection
    STALLED = "stalled"  #: it stalled again for its whole limit
    #: it failed another way (refused, reset, a reply, an alert ...): no MTU evidence
    FAILED = "failed"
    CUT = "cut"  #: the overall deadline ended it first: no evidence either way


@dataclass(frozen=True, slots=True)
class MssRetry:
    """A stalled TLS handshake repeated once on a new connection whose maximum segment
    size was set small before connecting (``TCP_MAXSEG``: 536 for IPv4, 1220 for IPv6).

    A handshake that stalls when the server's large flight (its certificate chain) is
    due, while the small packets of the TCP handshake and the SMTP dialogue pass, is
    what a path that drops large packets and the ICMP "fragmentation needed" / "packet
    too big" telling the server so looks like (a path MTU black hole, RFC 2923 2.1).
    With a small MSS the server's segments fit through such a path: the handshake then
    completes.

    Attributes:
        mss: The maximum segment size asked for (announced in the SYN).
        result: How the repeated handshake ended.
        start_ms: Offset of the retry from the start of the route probe.
        duration_ms: Wall time of the whole retry (connect to close).
        handshake_ms: How long the repeated handshake took (also when it failed);
            ``None`` when the retry ended before it.
        limit_s: The handshake limit of the retry, in seconds.
        chain_bytes: DER bytes of the certificates the server sent on the retry (the
            size of its large flight); ``None`` unless the handshake completed.
        phases: The retry connection's phase records (offsets from its own start).
    """

    mss: int
    result: MssRetryResult
    start_ms: float
    duration_ms: float
    handshake_ms: float | None
    limit_s: float
    chain_bytes: int | None = None
    phases: tuple[PhaseRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteResult:
    """What happened on one route.

    Attributes:
        route: The route probed.
        phases: Phase records in the order they ran. The last one that is not ``ok``
            (if any) is the failure; QUIT failures do not count.
        ok: The route would accept a session: connected, 220 greeting, EHLO or HELO
            accepted and, where TLS was attempted, the handshake succeeded. A route that
            works without TLS because STARTTLS is not offered is still ``ok``.
        banner: The greeting text (sanitized), ``None`` if none was read.
        extensions: EHLO keywords as advertised (upper case), from the last successful EHLO.
        starttls_offered: Whether the plain EHLO advertised STARTTLS; ``None`` on 465 or
            when EHLO never succeeded.
        tls: TLS facts when a handshake was attempted, else ``None``.
        total_ms: Wall time of the whole route probe.
        started_at: ISO 8601 UTC instant the route probe started.
        local_address: The local (egress) address of the connected socket; ``None``
            when the connect did not complete.
        greeting_name: The host name the 220 greeting states (its first word, RFC 5321
            4.3.1), lower case, without a final dot, sanitized and bounded; ``None``
            when no 220 was read or its first word is no host name or address literal.
        ehlo_name: The host name the EHLO (or HELO) reply states (the first word of its
            first line, RFC 5321 4.1.1.1), in the same form; ``None`` as above.
        mss_retry: The TLS handshake repeated with a small maximum segment size, when
            this route's handshake stalled after plain SMTP worked on its address (at
            most one per address); else ``None``.
    """

    route: Route
    phases: tuple[PhaseRecord, ...]
    ok: bool
    banner: str | None = None
    extensions: tuple[str, ...] = ()
    starttls_offered: bool | None = None
    tls: TlsInfo | None = None
    total_ms: float = 0.0
    started_at: str = ""
    local_address: str | None = None
    greeting_name: str | None = None
    ehlo_name: str | None = None
    mss_retry: MssRetry | None = None

    @property
    def failure(self) -> PhaseRecord | None:
        """The phase that ended the probe unsuccessfully, ignoring QUIT.

        ``None`` when the route is ``ok`` (e.g. a rejected EHLO followed by a working HELO).
        """
        if self.ok:
            return None
        for rec in reversed(self.phases):
            if rec.phase is not Phase.QUIT and not rec.ok:
                return rec
        return None

    def phase(self, phase: Phase) -> PhaseRecord | None:
        """The record of ``phase`` (the last one if it ran twice), or ``None``."""
        for rec in reversed(self.phases):
            if rec.phase is phase:
                return rec
        return None


# --------------------------------------------------------------------- diagnosis


class Verdict(StrEnum):
    """The domain-level summary."""

    HEALTHY = "healthy"  #: every route works
    DEGRADED = "degraded"  #: mail is deliverable, but some route or feature fails
    FAILED = "failed"  #: no route delivers
    NO_MAIL = "no-mail"  #: the domain publishes that it accepts no mail (null MX)
    #: nothing about delivery was verified: the probe could not run (no nameserver
    #: answered) or no route was probed (e.g. ``-6`` against an IPv4-only domain)
    UNKNOWN = "unknown"


class RuleId(StrEnum):
    """Identifies a rule of the diagnosis (``diagnosis/table.py``); the value is the JSON form."""

    NULL_MX = "null-mx"
    COULD_NOT_RUN = "could-not-run"
    DNS_FAILED = "dns-failed"
    NO_ROUTE = "no-route"
    PRIMARY_DOWN_SECONDARY_OK = "primary-down-secondary-ok"
    OWN_PORT_BLOCKED = "own-port-blocked"
    MX_NOT_GLOBAL = "mx-not-global"
    ALL_MX_UNREACHABLE = "all-mx-unreachable"
    MX_NOT_LISTENING = "mx-not-listening"
    ALL_ROUTES_REFUSED = "all-routes-refused"
    GREETING_DEFERRED = "greeting-deferred"
    TLS_MISMATCH = "tls-mismatch"
    CONNECTION_DROPPED = "connection-dropped"
    SERVER_REJECTED = "server-rejected"
    PORT_BLOCKED = "port-blocked"
    FAMILY_UNREACHABLE = "family-unreachable"
    MX_NO_ADDRESS = "mx-no-address"
    MX_CNAME = "mx-cname"
    MX_LOOKUP_FAILED = "mx-lookup-failed"
    MX_DOWN = "mx-down"
    NOTHING_PROBED = "nothing-probed"
    DANE_BOGUS = "dane-bogus"
    DANE_MISMATCH = "dane-mismatch"
    STARTTLS_REQUIRED = "starttls-required"
    MTA_STS_CERT_INVALID = "mta-sts-cert-invalid"
    MTA_STS_MX_NOT_COVERED = "mta-sts-mx-not-covered"
    TLS_CERT_UNVERIFIED = "tls-cert-unverified"
    STARTTLS_NOT_OFFERED = "starttls-not-offered"
    MTA_STS_FETCH_FAILED = "mta-sts-fetch-failed"
    MTA_STS_WEBPKI_INVALID = "mta-sts-webpki-invalid"
    MTA_STS_INVALID = "mta-sts-invalid"
    DANE_NOT_USABLE = "dane-not-usable"
    HEALTHY = "healthy"
    CERT_EXPIRING = "cert-expiring"
    ALT_PORTS_FAILING = "alt-ports-failing"
    FAMILY_FILTERED = "family-filtered"
    NO_IPV6_HERE = "no-ipv6-here"
    ROUTES_NOT_ATTEMPTED = "routes-not-attempted"
    OBSERVATION_CAPPED = "observation-capped"
    IMPLICIT_MX = "implicit-mx"
    TLS_RPT_INVALID = "tls-rpt-invalid"
    GREYLISTED = "greylisted"
    GREETING_DELAYED = "greeting-delayed"
    EGRESS_LISTED = "egress-listed"
    RESOLVER_NOT_VALIDATING = "resolver-not-validating"
    FCRDNS_MISSING = "fcrdns-missing"
    HOST_NAME_DIFFERS = "host-name-differs"
    PATH_MTU_BLACK_HOLE = "path-mtu-black-hole"


#: A cause of the seed knowledge, ``"<code>/<slug>"`` (e.g. ``"5.4.2/port-blocked"``).
CauseId = NewType("CauseId", str)
#: An investigation step of the seed knowledge, ``"<code>/<slug>"``.
StepId = NewType("StepId", str)


class Persistence(StrEnum):
    """Whether the failure is known to last."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"  #: one probe cannot tell; repeated probes (``watch``) can


class StepStatus(StrEnum):
    DONE = "done"  #: the probe carried out this investigation step; see ``result``
    HUMAN = "human"  #: left for a person (e.g. "contact the recipient's IT")


@dataclass(frozen=True, slots=True)
class Step:
    """One investigation step from the seed knowledge, and what the probe made of it.

    Attributes:
        id: Stable identifier (e.g. ``"5.4.2/test-connection"``).
        text: The step, as the seed states it.
        status: Done by the probe, or left for a human.
        result: What the probe found when it carried out the step; ``None`` if not done.
    """

    id: StepId
    text: str
    status: StepStatus
    result: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation that supports a finding. Fields are ``None`` where not applicable.

    Attributes:
        mx: The MX host involved.
        address: The IP address.
        port: The TCP port.
        phase: The route phase that failed or was observed.
        outcome: The phase outcome.
        reply: The SMTP reply as ``"421 4.3.2 text"``.
        error: Error detail (TLS reason, DNS outcome, ...), for display.
        duration_ms: How long the phase took.
        note: Anything else, in words.
        query: A DNS query as ``"MX example.org"`` (DNS evidence only).
        dns_outcome: How that query ended.
        target_kind: What an MX target turned out to be (MX-target evidence only).
    """

    mx: str | None = None
    address: str | None = None
    port: int | None = None
    phase: Phase | None = None
    outcome: Outcome | None = None
    reply: str | None = None
    error: str | None = None
    duration_ms: float | None = None
    note: str | None = None
    query: str | None = None
    dns_outcome: DnsOutcome | None = None
    target_kind: MxTargetKind | None = None


@dataclass(frozen=True, slots=True)
class FindingPayload:
    """The typed facts a finding's sentences are made from (for programs, not people).

    Attributes:
        routes: Labels (``mx[address]:port``) of the routes the finding is about.
        hosts: MX host names it is about.
        ports: Ports it is about.
        server_code: The enhanced status code the server stated itself, if any.
        tls_reasons: Why TLS failed or did not verify, as values.
        address_classes: Classes of the MX addresses it is about (``mx-not-global``).
        skip_reasons: Why routes were not attempted (``routes-not-attempted``).
        senders: For TLS and TLS-policy findings: what each kind of sender (opportunistic,
            MTA-STS, DANE) does about it; empty for other findings.
        tls_rpt_results: The RFC 8460 result types a TLS report of a sender that saw
            this would carry (``certificate-expired``, ``sts-policy-fetch-error`` ...).
        causes_proven: Causes (of ``cause_ids``) a test of the probe proved, e.g. the
            path MTU black hole a small-MSS retry proves.
        causes_unlikely: Causes the guide names that a test of the probe argues
            against: the test that would have proved them came out negative (unlikely,
            not excluded); they are not in ``cause_ids``.
    """

    routes: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    server_code: str | None = None
    tls_reasons: tuple[TlsReason, ...] = ()
    address_classes: tuple[AddressClass, ...] = ()
    skip_reasons: tuple[SkipReason, ...] = ()
    senders: tuple[SenderImpact, ...] = ()
    tls_rpt_results: tuple[TlsRptResult, ...] = ()
    causes_proven: tuple[CauseId, ...] = ()
    causes_unlikely: tuple[CauseId, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One conclusion of the diagnosis.

    Attributes:
        rule: Id of the rule that produced it.
        code: Enhanced status code the situation corresponds to (``"4.4.2"``), or
            ``None`` for an observation with no code (e.g. "primary MX down, degraded").
        title: The code's title, or a short title for code-less findings.
        severity: Soft, hard or info.
        summary: One line.
        evidence: The observations behind it.
        causes: Matched causes, worded as the seed lists them.
        steps: The code's investigation steps, each done by the probe or left for a human.
        action: What to do.
        neighbours: Related codes the report names as well (e.g. ``("5.4.4",)``) with why.
        persistence: Whether this finding is known to be transient or permanent.
        cause_ids: The ids of ``causes``, in the same order.
        payload: The typed facts behind the sentences.
    """

    rule: RuleId
    code: str | None
    title: str
    severity: Severity
    summary: str
    evidence: tuple[Evidence, ...] = ()
    causes: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    action: Action = field(default_factory=lambda: Action(ActionKind.NONE, ""))
    neighbours: tuple[str, ...] = ()
    persistence: Persistence = Persistence.UNKNOWN
    cause_ids: tuple[CauseId, ...] = ()
    payload: FindingPayload = field(default_factory=FindingPayload)


#: No action (a diagnosis made before the decision, or with no finding): shared, immutable.
_NO_ACTION = Action(ActionKind.NONE, "")


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The domain-level verdict and its findings.

    Attributes:
        verdict: healthy, degraded, failed, no-mail or unknown.
        persistence: transient, permanent or unknown.
        primary: The leading finding's code, ``None`` when healthy or when the leading
            finding has no code.
        findings: Most important first.
        generated_at: ISO 8601 UTC instant retry times are counted from.
        action: What to do about the domain, decided with the findings: the action of
            the finding that gives the primary code (else of the first finding that
            asks for something); kind ``none`` when healthy.
        who_fails: The kinds of sender that cannot deliver now (empty when none).
        fault_side: Whose side the failure is on: the recipient's, or the prober's own
            (its network blocks the delivery port; its own address is listed on a
            blocklist and the servers reject it for that); ``none`` when nothing fails.
    """

    verdict: Verdict
    persistence: Persistence
    primary: str | None
    findings: tuple[Finding, ...] = ()
    generated_at: str = ""
    action: Action = _NO_ACTION
    who_fails: tuple[SenderKind, ...] = ()
    fault_side: FaultSide = FaultSide.NONE


# ------------------------------------------------------------------------ report


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """Everything one probe of one domain saw, plus its diagnosis.

    Attributes:
        domain: The domain as given by the user (sanitized).
        resolution: The DNS stage's result.
        routes: Route results ordered by MX rank, MX, address, port.
        started_at: ISO 8601 UTC instant the probe started.
        duration_ms: Wall time of the whole probe.
        ports: Ports that were probed.
        families: Address families that were probed.
        policy: The domain's TLS policy (MTA-STS, DANE, TLS-RPT) as the policy stage
            saw it; ``None`` when policy lookups were off.
        diagnosis: Added by the diagnose stage; ``None`` if not diagnosed.
        schema_version: The JSON schema version.
        tool_version: smtpdiag's version.
        names: The reverse DNS (PTR, FCrDNS) of each probed MX address.
        vantage: The prober's own side (egress addresses, blocklists, resolver);
            ``None`` when not observed (a report built without the pipeline).
    """

    domain: str
    resolution: Resolution
    routes: tuple[RouteResult, ...]
    started_at: str
    duration_ms: float
    ports: tuple[int, ...]
    families: tuple[AddressFamily, ...]
    policy: TlsPolicy | None = None
    diagnosis: Diagnosis | None = None
    schema_version: str = SCHEMA_VERSION
    tool_version: str = ""
    names: tuple[AddressNames, ...] = ()
    vantage: Vantage | None = None

    @property
    def could_not_run(self) -> bool:
        """True when no nameserver answered at all, so nothing about the domain is known.

        SERVFAIL or REFUSED are answers (the domain's DNS is broken: a diagnosis), and
        so is a malformed reply or a CNAME loop (``error`` with the ``nameserver``
        that sent it); a timeout, or an error before any server replied, means the
        probe itself could not run.
        """
        res = self.resolution
        query = res.mx_query
        return (
            res.kind is ResolutionKind.FAILED
            and query.outcome in (DnsOutcome.TIMEOUT, DnsOutcome.ERROR)
            and query.nameserver is None
        )
