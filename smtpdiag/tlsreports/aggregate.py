"""Counting reports as they stream by: sessions per policy, failures per route and
result type, per reporting organization. Memory is bounded by the number of groups
(:data:`MAX_GROUPS`), not by the number of reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from .model import FailureGroup, PolicyGroup, TlsReportError, TlsReportItem, TlsReportSummary
from .parse import KNOWN_RESULT_TYPES

__all__ = ["MAX_GROUPS", "OTHER", "SummaryBuilder"]

#: Distinct groups kept per breakdown; more are counted under :data:`OTHER`.
MAX_GROUPS = 10_000
OTHER = "(other)"

_K = TypeVar("_K")
_PolicyKey = tuple[str, str, str]  # domain, type, organization
_FailureKey = tuple[str, str, str | None, str | None, str, str]  # + host, ip, result


@dataclass(slots=True)
class _Sums:
    reports: int = 0
    successful: int = 0
    failed: int = 0
    start: str = ""
    end: str = ""
    codes: list[str] = field(default_factory=list)

    def span(self, start: str, end: str) -> None:
        self.start = start if not self.start or start < self.start else self.start
        self.end = end if end > self.end else self.end


def _rate(failed: int, total: int) -> float | None:
    return round(failed / total, 6) if total else None


class SummaryBuilder:
    """Counts records as they stream by; :meth:`summary` gives the frozen result."""

    def __init__(self, limit: int = MAX_GROUPS) -> None:
        self._limit = limit
        self._inputs = 0
        self._reports = 0
        self._duplicates = 0
        self._errors = 0
        self._successful = 0
        self._failed = 0
        self._omitted = 0
        self._policies: dict[_PolicyKey, _Sums] = {}
        self._failures: dict[_FailureKey, _Sums] = {}

    def add(self, item: TlsReportItem) -> None:
        """Count one record (a duplicate is counted as such, not again)."""
        self._inputs += 1
        if isinstance(item, TlsReportError):
            self._errors += 1
            return
        if item.duplicate:
            self._duplicates += 1
            return
        self._reports += 1
        for policy in item.policies:
            self._successful += policy.successful_sessions
            self._failed += policy.failed_sessions
            pkey = (policy.policy_domain, policy.policy_type.value, item.organization)
            sums = self._slot(self._policies, pkey, (OTHER, OTHER, OTHER))
            sums.reports += 1
            sums.successful += policy.successful_sessions
            sums.failed += policy.failed_sessions
            sums.span(item.start, item.end)
            named: set[_FailureKey] = set()
            for detail in policy.failures:
                fkey = (
                    *pkey[:2],
                    detail.receiving_mx_hostname,
                    detail.receiving_ip,
                    detail.result_type,
                    item.organization,
                )
                fsums = self._slot(self._failures, fkey, (OTHER, OTHER, None, None, OTHER, OTHER))
                if fkey not in named:
                    fsums.reports += 1
                    named.add(fkey)
                fsums.failed += detail.failed_sessions
                fsums.span(item.start, item.end)
                code = detail.failure_reason_code
                if code and code not in fsums.codes and len(fsums.codes) < 5:
                    fsums.codes.append(code)

    def _slot(self, table: dict[_K, _Sums], key: _K, other: _K) -> _Sums:
        sums = table.get(key)
        if sums is None:
            if len(table) >= self._limit:
                self._omitted += 1
                key = other
                sums = table.get(key)
            if sums is None:
                sums = table[key] = _Sums()
        return sums

    def summary(self, top: int = MAX_GROUPS) -> TlsReportSummary:
        """The counts so far; each breakdown keeps its ``top`` largest groups."""
        policies = [
            PolicyGroup(
                policy_domain=k[0],
                policy_type=k[1],
                organization=k[2],
                reports=s.reports,
                successful_sessions=s.successful,
                failed_sessions=s.failed,
                failure_rate=_rate(s.failed, s.successful + s.failed),
                start=s.start,
                end=s.end,
            )
            for k, s in self._policies.items()
        ]
        policies.sort(key=lambda g: (-g.failed_sessions, -g.successful_sessions, g.policy_domain))
        failures = []
        for k, s in self._failures.items():
            base = self._policies.get((*k[:2], k[5]))
            total = base.successful + base.failed if base is not None else 0
            failures.append(
                FailureGroup(
                    policy_domain=k[0],
                    policy_type=k[1],
                    receiving_mx_hostname=k[2],
                    receiving_ip=k[3],
                    result_type=k[4],
                    known_result_type=k[4] in KNOWN_RESULT_TYPES,
                    organization=k[5],
                    reports=s.reports,
                    failed_sessions=s.failed,
                    total_sessions=total,
                    failure_rate=_rate(s.failed, total),
                    start=s.start,
                    end=s.end,
                    failure_reason_codes=tuple(s.codes),
                )
            )
        failures.sort(key=lambda g: (-g.failed_sessions, g.policy_domain, g.result_type))
        return TlsReportSummary(
            inputs=self._inputs,
            reports=self._reports,
            duplicates=self._duplicates,
            errors=self._errors,
            successful_sessions=self._successful,
            failed_sessions=self._failed,
            policies=tuple(policies[:top]),
            failures=tuple(failures[:top]),
            groups_omitted=self._omitted,
        )
