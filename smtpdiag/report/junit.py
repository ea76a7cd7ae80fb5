"""JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters, ...). Pure.

One ``<testsuite>`` per checked domain with:

- one ``<testcase>`` per route (class ``smtpdiag.<domain>.routes``): it passes when the
  route is healthy (its phase timings in ``<system-out>``); otherwise its ``<failure>``
  carries the evidence (every phase with its outcome, duration, reply and error detail);
- one ``<testcase>`` per health problem (class ``smtpdiag.<domain>.problems``), always
  failing, ``type`` = the problem's level and kind;
- one ``<testcase>`` per diagnosis finding (class ``smtpdiag.<domain>.diagnosis``):
  failing for soft or hard findings, passing for informational ones, the finding's
  evidence in the failure text;
- when the probe could not run: one ``<testcase name="probe">`` with an ``<error>``.

Built with :mod:`xml.etree.ElementTree`, which escapes text and attributes; control
characters (invalid in XML 1.0) are removed from remote strings before.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..health.evaluation import HealthResult, HealthStatus, Problem, RouteHealth
from ..model import Evidence, Finding, RouteResult, Severity
from ..narrate.policy import policy_rows, senders_line
from ..textsafe import clean

__all__ = ["render_junit"]


def _t(text: str | None, limit: int = 2000) -> str:
    return clean(text, limit, keep_newlines=True)


def _secs(ms: float) -> str:
    return f"{round(ms, 3) / 1000.0:.3f}"


def _classname(domain: str, group: str) -> str:
    return f"smtpdiag.{domain.replace('.', '_')}.{group}"


def _phase_lines(rr: RouteResult) -> list[str]:
    lines = []
    for rec in rr.phases:
        line = f"{rec.phase.value}: {rec.outcome.value} in {round(rec.duration_ms, 3)} ms"
        if rec.reply is not None:
            # The text starts with the enhanced code when there is one (RFC 2034).
            line += f"; reply {rec.reply.code} {_t(rec.reply.text, 300)}"
        if rec.detail:
            line += f"; {_t(rec.detail, 300)}"
        lines.append(line)
    return lines


def _route_out(route: RouteHealth, rr: RouteResult | None) -> str:
    lines = [f"route {route.label} ({route.tls_mode.value})"]
    if rr is not None:
        if rr.banner:
            lines.append(f"banner: {_t(rr.banner, 300)}")
        lines += _phase_lines(rr)
        if rr.tls is not None and rr.tls.version:
            lines.append(f"tls: {rr.tls.version} {rr.tls.cipher or ''}".rstrip())
    if route.cert_days_left is not None:
        lines.append(f"certificate days left: {route.cert_days_left}")
    return "\n".join(_t(line, 600) for line in lines)


def _evidence_line(ev: Evidence) -> str:
    parts = []
    for name in (
        "mx",
        "address",
        "port",
        "query",
        "dns_outcome",
        "target_kind",
        "phase",
        "outcome",
        "reply",
        "error",
        "note",
    ):
        value = getattr(ev, name)
        if value is not None:
            parts.append(f"{name}={_t(str(value), 300)}")
    if ev.duration_ms is not None:
        parts.append(f"duration_ms={round(ev.duration_ms, 3)}")
    return " ".join(parts)


def _finding_case(suite: ET.Element, domain: str, finding: Finding) -> bool:
    name = f"{finding.code or finding.rule}: {_t(finding.title, 200)}"
    case = ET.SubElement(
        suite, "testcase", classname=_classname(domain, "diagnosis"), name=name, time="0"
    )
    if finding.severity is Severity.INFO:
        return False
    body = [_t(finding.summary, 600)]
    who = senders_line(finding)
    if who is not None:
        body.append(f"who fails: {_t(who, 600)}")
    body += [f"evidence: {_evidence_line(ev)}" for ev in finding.evidence]
    body += [f"cause: {_t(c, 300)}" for c in finding.causes]
    if finding.action.summary:
        body.append(f"action: {finding.action.kind.value}: {_t(finding.action.summary, 300)}")
    failure = ET.SubElement(
        case,
        "failure",
        message=_t(finding.summary, 300),
        type=f"{finding.severity.value}-bounce {finding.code or finding.rule}",
    )
    failure.text = "\n".join(body)
    return True


def _route_cases(suite: ET.Element, domain: str, result: HealthResult) -> tuple[int, int]:
    """One test case per route: (tests, failures)."""
    report = result.report
    by_label = {rr.route.label: rr for rr in report.routes} if report else {}
    failures = 0
    for route in result.routes:
        rr = by_label.get(route.label)
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_classname(domain, "routes"),
            name=route.label,
            time=_secs(route.total_ms),
        )
        if route.healthy:
            ET.SubElement(case, "system-out").text = _route_out(route, rr)
            continue
        failures += 1
        mine = [p for p in result.problems if route.label in p.routes]
        message = "; ".join(p.reason for p in mine) or (route.failure or "unhealthy")
        failure = ET.SubElement(
            case,
            "failure",
            message=_t(message, 300),
            type=mine[0].kind.value if mine else "route-down",
        )
        failure.text = _route_out(route, rr)
    return len(result.routes), failures


def _problem_case(suite: ET.Element, domain: str, problem: Problem) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=_classname(domain, "problems"),
        name=f"[{problem.level.value}] {_t(problem.reason, 300)}",
        time="0",
    )
    failure = ET.SubElement(
        case,
        "failure",
        message=_t(problem.reason, 300),
        type=f"{problem.level.value} {problem.kind.value}",
    )
    lines = [_t(problem.reason, 600)]
    if problem.routes:
        lines.append("routes: " + ", ".join(problem.routes))
    if problem.phase is not None:
        lines.append(f"phase: {problem.phase.value}")
    if problem.value is not None:
        limit = "" if problem.limit is None else f" (limit {problem.limit:g})"
        lines.append(f"value: {problem.value:g}{limit}")
    failure.text = "\n".join(lines)


def render_junit(result: HealthResult) -> str:
    """The JUnit XML document of ``result`` (UTF-8 declaration, ends with a newline)."""
    domain = clean(result.domain, 253)
    report = result.report
    root = ET.Element("testsuites", name="smtpdiag")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"smtpdiag check {domain}",
        timestamp=result.checked_at,
        time=_secs(result.duration_ms),
    )
    props = ET.SubElement(suite, "properties")
    rows = policy_rows(report) if report is not None else []
    for key, value in (
        ("domain", domain),
        ("status", result.status.value),
        ("summary", result.summary),
        ("verdict", result.verdict.value if result.verdict else ""),
        ("primary", result.primary or ""),
        ("tool_version", report.tool_version if report else ""),
        *((f"tls_policy_{i}", " ".join(filter(None, row))) for i, row in enumerate(rows)),
    ):
        ET.SubElement(props, "property", name=key, value=_t(value, 600))
    tests = failures = errors = 0

    if result.status is HealthStatus.UNKNOWN:
        case = ET.SubElement(
            suite, "testcase", classname=_classname(domain, "probe"), name="probe", time="0"
        )
        err = ET.SubElement(case, "error", message=_t(result.summary, 300), type="probe-failed")
        err.text = "\n".join(_t(p.reason, 600) for p in result.problems)
        tests, errors = 1, 1
    else:
        tests, failures = _route_cases(suite, domain, result)
        for problem in result.problems:
            tests += 1
            failures += 1
            _problem_case(suite, domain, problem)
        diagnosis = report.diagnosis if report else None
        for finding in diagnosis.findings if diagnosis else ():
            tests += 1
            failures += _finding_case(suite, domain, finding)

    for element in (suite, root):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
    suite.set("skipped", "0")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
