"""The dnspython adapter: build a resolver, ask one question, turn the result into data.

:func:`query` never raises on a DNS outcome. Every way a question can end (an answer,
NXDOMAIN, NODATA, SERVFAIL, REFUSED, a timeout, anything else) becomes a
:class:`~smtpdiag.model.DnsQuery`, translated once here from dnspython's exceptions by
one ordered table (:data:`_EXCEPTION_OUTCOMES`), most specific first.

Which nameserver answered is recorded for every outcome. dnspython reports it on an
:class:`dns.resolver.Answer` and in the error list of ``NoNameservers`` and
``LifetimeTimeout``, but not for NXDOMAIN; the nameserver objects built here therefore
note each server that sent a response in a per-query context variable.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.resolver

from ..config import ResolverConfig
from ..errors import ProbeError
from ..model import DnsOutcome, DnsQuery
from ..textsafe import clean, shown

__all__ = [
    "MAX_ANSWERS",
    "MIN_ATTEMPT_TIMEOUT",
    "attempt_timeout",
    "RawAnswer",
    "answer_of",
    "build_resolver",
    "negative_of",
    "query",
    "query_raw",
    "server_text",
]

_log = logging.getLogger(__name__)

#: Answer records kept as text in one :class:`DnsQuery` (a hostile zone can list thousands).
MAX_ANSWERS = 64
#: Longest text kept from one record or one error detail.
_MAX_RECORD_TEXT = 300
#: Shortest per-attempt limit on one nameserver when several share the lifetime.
MIN_ATTEMPT_TIMEOUT = 2.0
#: EDNS(0) payload size advertised (the DNS Flag Day 2020 recommendation), so that
#: answers up to 1232 bytes come over UDP and larger ones set TC and move to TCP.
_EDNS_PAYLOAD = 1232
#: Slack beyond ``lifetime`` before the guard cancels a question dnspython did not end.
_GUARD_SLACK = 0.25

# The servers that sent any response during the current question, as ``ip`` or
# ``ip@port``, most recent last. Set afresh by each :func:`query_raw` call; tasks
# inherit a copy of the context, so concurrent questions do not see each other's.
_responders: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "smtpdiag_dns_responders", default=None
)


def server_text(address: str, port: int) -> str:
    """A nameserver as the model names it: ``ip``, or ``ip@port`` off port 53."""
    return address if port == 53 else f"{address}@{port}"


class _RecordingNameserver(dns.nameserver.Do53Nameserver):
    """A Do53 nameserver that notes, per question, that it sent a response.

    Its text form is ``ip`` or ``ip@port`` (as :class:`smtpdiag.config.Nameserver`),
    which is also how dnspython names it in error lists.
    """

    def __str__(self) -> str:
        return server_text(self.answer_nameserver(), self.answer_port())

    def _note(self) -> None:
        seen = _responders.get()
        if seen is not None:
            seen.append(server_text(self.answer_nameserver(), self.answer_port()))

    async def async_query(
        self,
        request: dns.message.QueryMessage,
        timeout: float,  # noqa: ASYNC109 - dnspython's signature
        source: str | None,
        source_port: int,
        max_size: bool,
        backend: Any,
        one_rr_per_rrset: bool = False,
        ignore_trailing: bool = False,
    ) -> dns.message.Message:
        """As dnspython's, except that over UDP a reply that does not parse is an error
        of this server (dnspython skips it and waits for the lifetime to end, so a
        server answering garbage looked like no server at all). Replies that parse but
        do not match the question (ID, name) are still skipped: they may be spoofed.
        """
        if max_size:
            response = await super().async_query(
                request,
                timeout,
                source,
                source_port,
                max_size,
                backend,
                one_rr_per_rrset,
                ignore_trailing,
            )
            self._note()
            return response
        try:
            response = await dns.asyncquery.udp(
                request,
                self.address,
                timeout=timeout,
                port=self.port,
                source=source,
                source_port=source_port,
                raise_on_truncation=True,
                backend=backend,
                one_rr_per_rrset=one_rr_per_rrset,
                ignore_trailing=ignore_trailing,
                ignore_errors=False,
                ignore_unexpected=True,
            )
        except dns.message.Truncated:
            self._note()  # a real reply with TC set: dnspython retries over TCP
            raise
        except (dns.exception.Timeout, OSError, dns.query.BadResponse):
            raise  # no reply, or one for another question
        except Exception as exc:
            # The server sent bytes that are not a DNS message: it answered, badly.
            self._note()
            raise dns.exception.FormError(  # type: ignore[no-untyped-call]
                f"malformed reply: {type(exc).__name__}: {clean(str(exc), 120)}"
            ) from exc
        self._note()
        return response


def attempt_timeout(lifetime: float, nameservers: int) -> float:
    """Per-attempt limit on one nameserver: the whole ``lifetime`` (``--dns-timeout``)
    with one nameserver, an equal share (at least :data:`MIN_ATTEMPT_TIMEOUT`) with
    several, so a dead first server leaves time for the next.

    Why not a fixed 2 s: a nameserver answering in 3 s with ``--dns-timeout 5`` must
    be heard, not reported as silent.
    """
    if nameservers <= 1:
        return lifetime
    return min(lifetime, max(MIN_ATTEMPT_TIMEOUT, lifetime / nameservers))


def build_resolver(
    config: ResolverConfig, lifetime: float = MIN_ATTEMPT_TIMEOUT, *, dnssec: bool = False
) -> dns.asyncresolver.Resolver:
    """A resolver asking ``config.nameservers`` in order, or the system's when empty.

    The resolver has no cache and no search list (every name asked is absolute) and
    uses EDNS(0) with a 1232-byte payload. Per-question limits are passed to
    :func:`query`; ``lifetime`` (the per-question limit, ``--dns-timeout``) sets the
    per-attempt limit (:func:`attempt_timeout`).

    ``dnssec``: ask with the DO bit and AD set (RFC 4035 3.2.1, RFC 6840 5.7), as a
    DANE client does, so a validating resolver reports its verdict in the AD bit of
    the response (:attr:`RawAnswer.authenticated`). Trusting that bit assumes, as
    Postfix does, that the resolver is trusted and the path to it is secure.

    Raises:
        ProbeError: No nameservers are configured and the resolv.conf (the system's
            or ``config.resolv_conf``) cannot be read or lists none.
    """
    resolver = dns.asyncresolver.Resolver(configure=False)
    if config.nameservers:
        addresses = [ns.address for ns in config.nameservers]
        ports = [ns.port for ns in config.nameservers]
    else:
        system = dns.asyncresolver.Resolver(configure=False)
        path = config.resolv_conf or "/etc/resolv.conf"
        try:
            system.read_resolv_conf(path)
        except (dns.resolver.NoResolverConfiguration, OSError) as exc:
            raise ProbeError(
                f"no DNS resolver configured: cannot use {shown(path, 200)} "
                f"({clean(str(exc), 200)}); pass --nameserver"
            ) from None
        addresses = []
        ports = []
        for ns in system.nameservers:
            text = str(ns)
            try:
                ipaddress.ip_address(text)
            except ValueError:
                continue  # DoH/DoT URLs are not something resolv.conf can hold anyway
            addresses.append(text)
            ports.append(system.port)
        if not addresses:
            raise ProbeError(f"no nameserver listed in {shown(path, 200)}; pass --nameserver")
    resolver.nameservers = [
        _RecordingNameserver(address, port) for address, port in zip(addresses, ports, strict=True)
    ]
    resolver.cache = None
    resolver.search = []
    resolver.use_search_by_default = False
    resolver.rotate = False
    # A SERVFAIL from one server should not be retried against the same server
    # until the lifetime runs out: it is an answer, and we want to report it.
    resolver.retry_servfail = False
    resolver.timeout = attempt_timeout(lifetime, len(addresses))
    if dnssec:
        resolver.flags = dns.flags.RD | dns.flags.AD
        resolver.use_edns(0, dns.flags.DO, _EDNS_PAYLOAD)
    else:
        resolver.use_edns(0, 0, _EDNS_PAYLOAD)
    return resolver


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """A question's result: the model record plus the parsed records behind it.

    Attributes:
        query: What goes into the model.
        records: Every answer record of the asked type (not capped, unlike
            ``query.answers``); empty unless ``query.outcome`` is ``ok``.
        authenticated: The response that ended the question had the AD bit set: a
            validating resolver asked by a :func:`build_resolver` ``dnssec=True``
            resolver found it secure (answers, NODATA and NXDOMAIN alike). ``False``
            when no response came (timeouts, SERVFAIL).
    """

    query: DnsQuery
    records: tuple[dns.rdata.Rdata, ...] = ()
    authenticated: bool = False


def _record_text(rdata: dns.rdata.Rdata) -> str:
    # Names without the final dot, as the model documents ("10 mx1.example.org");
    # the root (a null MX's exchange) stays ".".
    text = rdata.to_text(relativize=False)
    if rdata.rdtype in (dns.rdatatype.MX, dns.rdatatype.CNAME, dns.rdatatype.NS):
        parts = text.split(" ")
        last = parts[-1]
        if last.endswith(".") and last != ".":
            parts[-1] = last[:-1]
        text = " ".join(parts)
    return clean(text, _MAX_RECORD_TEXT)


def _rcode_of(error: object, response: object) -> dns.rcode.Rcode | None:
    if isinstance(response, dns.message.Message):
        return response.rcode()
    if isinstance(error, str):
        try:
            return dns.rcode.from_text(error)
        except dns.rcode.UnknownRcode:
            return None
    return None


def _errors_of(exc: BaseException) -> Sequence[tuple[Any, ...]]:
    kwargs = getattr(exc, "kwargs", None)
    if isinstance(kwargs, dict):
        errors = kwargs.get("errors")
        if isinstance(errors, list):
            return errors
    return ()


def _describe_error(error: object) -> str:
    if isinstance(error, str):
        return error
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return repr(error)


def _from_no_nameservers(exc: BaseException) -> tuple[DnsOutcome, str | None, str]:
    """Tell SERVFAIL from REFUSED from other failures by the servers' rcodes.

    Each error is ``(server, tcp, port, error, response)``. When every server that
    sent a response said REFUSED, the outcome is REFUSED; when any said SERVFAIL,
    SERVFAIL (the zone is broken somewhere, which is the more telling fact); when
    none answered with an rcode, ERROR.
    """
    errors = _errors_of(exc)
    rcodes: list[tuple[dns.rcode.Rcode, str]] = []
    details: list[str] = []
    last_server: str | None = None
    for item in errors:
        if len(item) < 5:
            continue
        server, _tcp, _port, error, response = item[:5]
        where = str(server)
        rcode = _rcode_of(error, response)
        if rcode is not None:
            rcodes.append((rcode, where))
            last_server = where
        details.append(f"{where}: {_describe_error(error)}")
    detail = "; ".join(details) or "all nameservers failed"
    codes = {code for code, _ in rcodes}
    if dns.rcode.SERVFAIL in codes:
        server = next(where for code, where in rcodes if code == dns.rcode.SERVFAIL)
        return DnsOutcome.SERVFAIL, server, detail
    if codes and codes == {dns.rcode.REFUSED}:
        return DnsOutcome.REFUSED, last_server, detail
    return DnsOutcome.ERROR, last_server, detail


def _from_timeout(exc: BaseException) -> tuple[DnsOutcome, str | None, str]:
    errors = _errors_of(exc)
    tried = sorted({str(item[0]) for item in errors if item})
    # Servers that did answer, but not usefully, before the lifetime ran out.
    said = sorted(
        {
            f"{item[0]} said {dns.rcode.to_text(rcode)}"
            for item in errors
            if len(item) >= 5 and (rcode := _rcode_of(item[3], item[4])) is not None
        }
    )
    kwargs = getattr(exc, "kwargs", None)
    timeout = kwargs.get("timeout") if isinstance(kwargs, dict) else None
    after = f" after {timeout:.2f} s" if isinstance(timeout, int | float) else ""
    where = f" (asked {', '.join(tried)})" if tried else ""
    also = f"; {', '.join(said)}" if said else ""
    return DnsOutcome.TIMEOUT, None, f"no answer{after}{where}{also}"


# The translation table, most specific first (LifetimeTimeout is a Timeout; every
# dnspython error is a DNSException). An entry is (exception type, outcome or a
# function of the exception giving (outcome, nameserver, detail)). NoAnswer does not
# appear: it is asked for as an Answer without rrset (``raise_on_no_answer=False``), so
# that the answering nameserver is known.
_Mapper = Callable[[BaseException], tuple[DnsOutcome, str | None, str]]
_EXCEPTION_OUTCOMES: tuple[tuple[type[BaseException], DnsOutcome | _Mapper], ...] = (
    (dns.resolver.NXDOMAIN, DnsOutcome.NXDOMAIN),
    (dns.resolver.NoAnswer, DnsOutcome.NODATA),
    (dns.resolver.LifetimeTimeout, _from_timeout),
    (dns.exception.Timeout, _from_timeout),
    (TimeoutError, _from_timeout),
    (dns.resolver.NoNameservers, _from_no_nameservers),
    (dns.resolver.YXDOMAIN, DnsOutcome.ERROR),
    (dns.exception.DNSException, DnsOutcome.ERROR),
    (OSError, DnsOutcome.ERROR),
    (ValueError, DnsOutcome.ERROR),
)


_SHORT_DETAIL: dict[DnsOutcome, str] = {
    DnsOutcome.NXDOMAIN: "the name does not exist (NXDOMAIN)",
    DnsOutcome.NODATA: "no record of this type (NODATA)",
}


def _translate(exc: BaseException, responders: list[str]) -> tuple[DnsOutcome, str | None, str]:
    for exc_type, mapped in _EXCEPTION_OUTCOMES:
        if isinstance(exc, exc_type):
            if isinstance(mapped, DnsOutcome):
                server = responders[-1] if responders else None
                return mapped, server, _SHORT_DETAIL.get(mapped) or _describe_error(exc)
            outcome, server, detail = mapped(exc)
            if server is None and outcome is DnsOutcome.ERROR and responders:
                # A server replied (malformed, a CNAME loop, ...): it answered, and
                # the probe did run (ProbeReport.could_not_run reads this).
                server = responders[-1]
            return outcome, server, detail
    raise exc  # not a DNS outcome: a bug, let it surface


async def query_raw(
    resolver: dns.asyncresolver.Resolver,
    name: str,
    rdtype: str,
    *,
    lifetime: float,
) -> RawAnswer:
    """Ask one question; like :func:`query`, with the parsed records as well.

    A resolver with ``peek``/``keep`` (the bulk run's caching resolver) answers
    repeated questions itself, already in this form."""
    peek = getattr(resolver, "peek", None)
    if peek is not None and lifetime > 0:
        kept = peek(name, rdtype)
        if isinstance(kept, RawAnswer):
            return kept
    raw = _logged(await _ask(resolver, name, rdtype, lifetime=lifetime))
    keep = getattr(resolver, "keep", None)
    if keep is not None:
        keep(name, rdtype, raw)
    return raw


async def _ask(
    resolver: dns.asyncresolver.Resolver,
    name: str,
    rdtype: str,
    *,
    lifetime: float,
) -> RawAnswer:
    qname = name.rstrip(".") or "."
    authenticated = False
    responders: list[str] = []
    token = _responders.set(responders)
    start = time.monotonic()
    try:
        if lifetime <= 0:
            outcome, server, detail = (
                DnsOutcome.TIMEOUT,
                None,
                "not asked: the overall deadline had passed",
            )
            answer = None
        else:
            try:
                # dnspython bounds each attempt by the remaining lifetime but may
                # sleep a back-off past it; the guard keeps the promise.
                async with asyncio.timeout(lifetime + _GUARD_SLACK):
                    # The bulk run's resolver reads a plain reply itself (``quick``);
                    # anything else is asked again in full, within the lifetime left.
                    quick = getattr(resolver, "quick", None)
                    plain = await quick(name, rdtype, lifetime) if quick is not None else None
                    if isinstance(plain, RawAnswer):
                        return plain
                    answer = await resolver.resolve(
                        dns.name.from_text(qname),
                        rdtype,
                        raise_on_no_answer=False,
                        lifetime=max(lifetime - (time.monotonic() - start), 0.001),
                        search=False,
                    )
            except dns.resolver.LifetimeTimeout as exc:
                # Say the whole time waited, the quick try's included.
                errors = exc.kwargs.get("errors", []) if isinstance(exc.kwargs, dict) else []
                answer = None
                outcome, server, detail = _translate(
                    dns.resolver.LifetimeTimeout(  # type: ignore[no-untyped-call]
                        timeout=time.monotonic() - start, errors=errors
                    ),
                    responders,
                )
            except Exception as exc:  # translated by the table, re-raised if unknown
                answer = None
                outcome, server, detail = _translate(exc, responders)
                authenticated = _nxdomain_authenticated(exc)
    finally:
        _responders.reset(token)
    # Rounded to 1 µs as the JSON writes it, so a saved report loads back equal.
    duration_ms = round((time.monotonic() - start) * 1000.0, 3)
    if answer is None:
        return RawAnswer(
            DnsQuery(
                name=clean(qname, 260),
                rdtype=rdtype,
                outcome=outcome,
                nameserver=server,
                duration_ms=duration_ms,
                detail=clean(detail, _MAX_RECORD_TEXT),
            ),
            authenticated=authenticated,
        )
    authenticated = bool(answer.response.flags & dns.flags.AD)
    server = (
        server_text(answer.nameserver, answer.port or 53)
        if answer.nameserver is not None
        else (responders[-1] if responders else None)
    )
    cname: str | None = None
    if answer.canonical_name != answer.qname:
        cname = clean(answer.canonical_name.to_text(omit_final_dot=True), 260)
    if answer.rrset is None:
        return negative_of(
            qname, rdtype, DnsOutcome.NODATA, server, duration_ms, authenticated, cname=cname
        )
    return answer_of(
        qname, rdtype, tuple(answer.rrset), server, duration_ms, authenticated, cname=cname
    )


def negative_of(
    name: str,
    rdtype: str,
    outcome: DnsOutcome,
    server: str | None,
    duration_ms: float,
    authenticated: bool,
    *,
    cname: str | None = None,
) -> RawAnswer:
    """The model of a NODATA or NXDOMAIN answer (``name`` as asked)."""
    return RawAnswer(
        DnsQuery(
            name=clean(name, 260),
            rdtype=rdtype,
            outcome=outcome,
            nameserver=server,
            duration_ms=duration_ms,
            detail=f"no {rdtype} record"
            if outcome is DnsOutcome.NODATA
            else _SHORT_DETAIL[outcome],
            cname=cname,
        ),
        authenticated=authenticated,
    )


def answer_of(
    name: str,
    rdtype: str,
    records: tuple[dns.rdata.Rdata, ...],
    server: str | None,
    duration_ms: float,
    authenticated: bool,
    *,
    cname: str | None = None,
) -> RawAnswer:
    """The model of a NOERROR answer with records (``name`` as asked)."""
    return RawAnswer(
        DnsQuery(
            name=clean(name.rstrip(".") or ".", 260),
            rdtype=rdtype,
            outcome=DnsOutcome.OK,
            answers=tuple(_record_text(rd) for rd in records[:MAX_ANSWERS]),
            nameserver=server,
            duration_ms=duration_ms,
            cname=cname,
        ),
        records,
        authenticated,
    )


def _nxdomain_authenticated(exc: BaseException) -> bool:
    """Whether every response behind an NXDOMAIN had AD set (an authenticated denial)."""
    if not isinstance(exc, dns.resolver.NXDOMAIN):
        return False
    responses = exc.kwargs.get("responses") if isinstance(exc.kwargs, dict) else None
    if not isinstance(responses, dict) or not responses:
        return False
    return all(
        isinstance(msg, dns.message.Message) and bool(msg.flags & dns.flags.AD)
        for msg in responses.values()
    )


def _logged(raw: RawAnswer) -> RawAnswer:
    q = raw.query
    _log.debug(
        "DNS %s %s -> %s via %s in %.1f ms%s",
        q.name,
        q.rdtype,
        q.outcome,
        q.nameserver or "-",
        q.duration_ms,
        f" ({q.detail})" if q.detail else "",
    )
    return raw


async def query(
    resolver: dns.asyncresolver.Resolver,
    name: str,
    rdtype: str,
    *,
    lifetime: float,
) -> DnsQuery:
    """Ask ``resolver`` for ``name``/``rdtype`` within ``lifetime`` seconds.

    Never raises on a DNS outcome: NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeouts and
    malformed answers all come back as a :class:`DnsQuery` with the matching
    :class:`DnsOutcome`, the nameserver that gave the final answer (``ip`` or
    ``ip@port``; ``None`` when none answered), the duration and a short detail.
    Answers are kept as text, at most :data:`MAX_ANSWERS` of them. A ``lifetime`` of
    zero or less asks nothing and reports a timeout.
    """
    return (await query_raw(resolver, name, rdtype, lifetime=lifetime)).query
