"""The service's pure decisions on one round: untestable (421/450, tarpit) or judged,
and the TLSA match of the certificates read; and the modules of a config file."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pytest
from factories import health_cases as f

from smtpdiag.errors import ConfigError
from smtpdiag.model import DaneCheck, Outcome, Phase, SmtpReply, TlsRptResult
from smtpdiag.serve.drift import TlsaMatch, signatures, tlsa_match
from smtpdiag.serve.exporter import UntestableReason, is_tarpit, untestable_reason

SLOW = 1.0  # seconds: the tarpit limit in these cases
R1 = f.route(f.MX1, "198.51.100.10", 25)
R2 = f.route(f.MX2, "198.51.100.20", 25)


def _report(*results):  # type: ignore[no-untyped-def]
    return f.report("example.org", [f.MX1, f.MX2], list(results), diagnosed=False)


def slow_ok(r=R1):  # type: ignore[no-untyped-def]
    return f.route_result(r, durations={Phase.GREETING: 1500.0})


def prompt_ok(r=R1):  # type: ignore[no-untyped-def]
    return f.route_result(r)


def timeout(r=R2, phase=Phase.GREETING):  # type: ignore[no-untyped-def]
    return f.route_result(r, fail=phase, outcome=Outcome.TIMEOUT, fail_ms=2000.0)


def slow_then_timeout(r=R1):  # type: ignore[no-untyped-def]
    return f.route_result(
        r, fail=Phase.EHLO, outcome=Outcome.TIMEOUT, durations={Phase.GREETING: 1500.0}
    )


def refused(r=R2):  # type: ignore[no-untyped-def]
    return f.route_result(r, fail=Phase.CONNECT, outcome=Outcome.REFUSED, fail_ms=0.5)


def busy(r=R2):  # type: ignore[no-untyped-def]
    reply = SmtpReply(421, "4.3.2", "4.3.2 busy")
    return f.route_result(r, fail=Phase.GREETING, outcome=Outcome.REPLY, reply=reply)


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        # every route greets slowly (working or not): a tarpit
        ((slow_ok(), slow_ok(R2)), UntestableReason.TARPIT),
        ((slow_then_timeout(), timeout()), UntestableReason.TARPIT),
        ((slow_ok(), timeout(R2, Phase.EHLO)), UntestableReason.TARPIT),
        # 421 with no working route: the server's own code wins over the tarpit
        ((slow_then_timeout(), busy()), UntestableReason.SMTP_421),
        ((timeout(R1), busy()), UntestableReason.SMTP_421),
        # a prompt working route gives a verdict
        ((slow_ok(), prompt_ok(R2)), None),
        ((prompt_ok(), timeout()), None),
        # timeouts alone: a hung server is judged (it pages), not backed off
        ((timeout(R1), timeout()), None),
        # a refusal is an answer: not a tarpit
        ((slow_then_timeout(), refused()), None),
        ((), None),
    ],
)
def test_untestable_reason(results, expected) -> None:  # type: ignore[no-untyped-def]
    report = _report(*results)
    assert untestable_reason(report, SLOW) == expected
    if expected is not UntestableReason.SMTP_421:  # (a 421 may come with a tarpit)
        assert is_tarpit(report, SLOW) == (expected is UntestableReason.TARPIT)


def test_the_limit_is_strict() -> None:
    report = _report(slow_ok(), slow_ok(R2))
    assert is_tarpit(report, 1.4)
    assert not is_tarpit(report, 1.5)


def _with_dane(result, check):  # type: ignore[no-untyped-def]
    assert result.tls is not None
    return replace(result, tls=replace(result.tls, dane=check))


MATCHED = DaneCheck(matched=True, usage=3, record_index=0, chain_index=0)
MISMATCHED = DaneCheck(matched=False, failure=TlsRptResult.TLSA_INVALID)


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ((MATCHED, MATCHED), TlsaMatch.MATCH),
        ((MATCHED, MISMATCHED), TlsaMatch.MISMATCH),
        ((MATCHED, None), TlsaMatch.MATCH),  # one host without usable TLSA
        ((None, None), TlsaMatch.NO_TLSA),
    ],
)
def test_tlsa_match(checks, expected) -> None:  # type: ignore[no-untyped-def]
    results = [_with_dane(prompt_ok(r), c) for r, c in zip((R1, R2), checks, strict=True)]
    report = _report(*results)
    assert tlsa_match(report) is expected
    assert signatures(report).cert_tlsa == expected.value


def test_no_certificate_read_is_no_tlsa_signature() -> None:
    report = _report(refused(R1), refused())
    assert tlsa_match(report) is None
    assert signatures(report).cert_tlsa is None


# ----------------------------------------------------------------------------- modules


def _args(tmp_path: Path, text: str, **flags: object) -> argparse.Namespace:
    from smtpdiag.cli.options import add_probe_options

    parser = argparse.ArgumentParser()
    add_probe_options(parser, defaults={"ports": (25,)})
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    argv = ["--config", str(path)]
    for key, value in flags.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return parser.parse_args(argv)


def test_a_module_sets_its_keys_over_the_default(tmp_path: Path) -> None:
    from smtpdiag.cli.options import modules_from_args

    text = (
        'nameserver = ["127.0.0.1:5353"]\ngreeting_timeout = 7\n'
        '[modules.a]\nports = [587]\ngreeting_timeout = 20\nrequire_mta_sts = "Enforce"\n'
        "[modules.b]\nrequire_dane = true\n"
    )
    default, a, b = modules_from_args(_args(tmp_path, text, ehlo_name="probe.test"), {})
    assert [m.name for m in (default, a, b)] == ["default", "a", "b"]
    assert default.config.ports == (25,) and default.config.timeouts.greeting == 7
    assert default.require_mta_sts is None and not default.require_dane
    # the module's own keys win, the rest is the default's (flags, file, defaults)
    assert a.config.ports == (587,) and a.config.timeouts.greeting == 20
    assert a.config.ehlo_name == "probe.test"
    assert str(a.config.resolver.nameservers[0].address) == "127.0.0.1"
    assert a.require_mta_sts == "enforce"
    assert b.require_dane and b.config.timeouts.greeting == 7


def test_a_module_value_that_fails_validation_names_the_module(tmp_path: Path) -> None:
    from smtpdiag.cli.options import modules_from_args

    # each key is fine alone; together they are not (a source of a family not probed)
    text = '[modules.v6]\nfamily = 6\nsource_address = "127.0.0.1"\n'
    with pytest.raises(ConfigError, match=r"modules\.v6: source address"):
        modules_from_args(_args(tmp_path, text), {})


def test_default_module_names_agree() -> None:
    from smtpdiag.cli import options
    from smtpdiag.serve import targets

    assert options.DEFAULT_MODULE == targets.DEFAULT_MODULE
