"""Start-up cost: each CLI path imports only what it needs.

A monitoring system runs ``smtpdiag check --plugin`` thousands of times a minute and a
CI job runs ``smtpdiag probe --json`` once per domain; most of such a process's time is
imports. Each path runs here as a real subprocess under ``python -X importtime`` (the
interpreter's own list of every module it imported), and the test fails when a module
that path does not need shows up. Timing itself is the benchmark's job
(``scripts/bench.py process``): this guards the cause, not the symptom.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpdiag.demo import DemoLab, demo_lab

# The I/O stack and the text renderer: what `--version` and `explain` must not pay for.
IO_STACK = ("asyncio", "ssl", "dns", "aiosmtplib", "cryptography", "email")
RICH = ("rich", "smtpdiag.report.text", "smtpdiag.health.text")
OTHER_RENDERERS = (
    "smtpdiag.report.junit",
    "smtpdiag.report.markdown",
    "smtpdiag.report.openmetrics",
    "smtpdiag.report.explain",
)
PIPELINE = (
    "smtpdiag.model",
    "smtpdiag.config",
    "smtpdiag.diagnosis",
    "smtpdiag.health",
    "smtpdiag.report",
    "smtpdiag.api",
    "smtpdiag.pipeline",
    "smtpdiag.probing",
    "smtpdiag.resolve",
)
BOUNCE = "550 5.7.1 <a@example.test>: relaying denied"
# The stages a bounce explanation does not use.
PIPELINE_BUT_BOUNCES = (
    "smtpdiag.config",
    "smtpdiag.health",
    "smtpdiag.api",
    "smtpdiag.pipeline",
    "smtpdiag.probing",
    "smtpdiag.resolve",
    "smtpdiag.policy",
    "smtpdiag.triage",
)
# Loaded by nothing the probe needs: dnspython's feature check would load the package
# metadata machinery (zipfile, csv, email.parser ...) in every probe process.
METADATA = ("importlib.metadata", "zipfile", "csv")
# The status-code registry and the seed knowledge: only a finding with a code needs them
# (the healthy probes below have none).
CODE_TABLES = ("smtpdiag.diagnosis.codes", "smtpdiag.diagnosis.knowledge")
# cryptography's key serialization (with its SSH and cipher modules): judging a
# certificate needs x509 only, the fingerprint comes from Certificate.fingerprint.
SERIALIZATION = ("cryptography.hazmat.primitives.serialization",)


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    with demo_lab() as running:  # random ports: other test runs may share loopback
        yield running


def imported(*argv: str) -> tuple[int, set[str]]:
    """Exit code and every module a ``smtpdiag`` process imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "smtpdiag", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert "smtpdiag.cli" in modules, proc.stderr[-2000:]
    return proc.returncode, modules


def offenders(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def probe_args(lab: DemoLab) -> list[str]:
    ns = lab.nameserver
    return [
        "--nameserver",
        f"{ns.address}:{ns.port}",
        "--ports",
        ",".join(str(p) for p in lab.ports),
        "--implicit-tls-ports",
        str(lab.implicit_tls_port),
        "-4",
        "--ca-file",
        lab.ca_file,
        "--allow-targets",
        "127.0.0.0/8",
        "--mta-sts-port",
        str(lab.mta_sts_port),
    ]


@pytest.mark.parametrize("argv", [["--version"], ["--help"]], ids=["version", "help"])
def test_version_and_help_import_no_pipeline(argv: list[str]) -> None:
    code, modules = imported(*argv)
    assert code == 0
    assert offenders(modules, IO_STACK + RICH + PIPELINE) == []


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["text", "json"])
def test_explain_without_probe_imports_no_probe_stack(extra: list[str]) -> None:
    code, modules = imported("explain", BOUNCE, *extra)
    assert code == 0
    forbidden = (
        *IO_STACK,
        "rich",
        "smtpdiag.api",
        "smtpdiag.pipeline",
        "smtpdiag.pipeline",
        "smtpdiag.probing",
        "smtpdiag.resolve",
        "smtpdiag.health",
        "smtpdiag.report.text",
        "smtpdiag.diagnosis.engine",
        "smtpdiag.diagnosis.predicates",
        "smtpdiag.narrate.rules",  # every rule's narrator: the probe diagnosis only
        "smtpdiag.cli.check",
        # The probe's config and facts (and ipaddress behind them): --probe only.
        "smtpdiag.config",
        "smtpdiag.diagnosis.facts",
        "smtpdiag.narrate.actions",
        "smtpdiag.narrate.common",
        "ipaddress",
    )
    assert offenders(modules, forbidden) == []


def test_bounce_patterns_are_compiled_on_first_use() -> None:
    # The bounce reader's pattern tables (well over a hundred) cost most of an explain
    # process when compiled at import; a coded bounce needs a handful of them.
    code = (
        "import re, sys\n"
        "from smtpdiag.lazyre import LazyPattern\n"
        "from smtpdiag.bounces import bounce, reasons\n"
        "mods = [m for n, m in sys.modules.items() if n.startswith(('smtpdiag.diagnosis.', 'smtpdiag.bounces.'))]\n"
        "def compiled():\n"
        "    out = []\n"
        "    for m in mods:\n"
        "        for name, v in vars(m).items():\n"
        "            if isinstance(v, re.Pattern) or (isinstance(v, LazyPattern) and v._compiled):\n"
        "                out.append(m.__name__ + '.' + name)\n"
        "    phrases = sum(1 for _l, rx, _c, _r in reasons._COMPILED if rx._compiled)\n"
        "    return out, phrases\n"
        "assert compiled() == ([], 0), compiled()\n"
        "assert bounce.explain('550 5.7.1 relaying denied for <a@b.test>').found\n"
        "used, phrases = compiled()\n"
        "assert phrases == 0 and len(used) < 20, (used, phrases)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_probe_json_imports_no_text_renderer(lab: DemoLab) -> None:
    code, modules = imported("probe", "healthy.demo.test", "--json", *probe_args(lab))
    assert code == 0
    forbidden = (*RICH, *OTHER_RENDERERS, "smtpdiag.report.nagios", "smtpdiag.health")
    assert (
        offenders(
            modules,
            (*forbidden, "smtpdiag.bounces.bounce", *METADATA, *CODE_TABLES, *SERIALIZATION),
        )
        == []
    )
    assert "smtpdiag.report.jsonout" in modules  # the check sees real imports


def test_check_plugin_imports_only_the_plugin_renderer(lab: DemoLab) -> None:
    code, modules = imported("check", "healthy.demo.test", "--plugin", *probe_args(lab))
    assert code == 0
    forbidden = (*RICH, *OTHER_RENDERERS, "smtpdiag.report.jsonout", "smtpdiag.bounces.bounce")
    assert offenders(modules, (*forbidden, *METADATA, *CODE_TABLES, *SERIALIZATION)) == []
    assert "smtpdiag.report.nagios" in modules


def test_dnspython_features_are_what_dnspython_decides() -> None:
    # The command answers dnspython's feature questions without reading package
    # metadata; the answers must be dnspython's own (and no DoH/DoQ client is loaded).
    code = (
        "import sys\n"
        "from smtpdiag.cli.dnsfeatures import prime\n"
        "prime()\n"
        "import dns.name, dns.asyncresolver, dns._features as f\n"
        "assert 'importlib.metadata._adapters' not in sys.modules\n"
        "assert not any(m.split('.')[0] in ('httpx', 'httpx2', 'aioquic') for m in sys.modules)\n"
        "forced = dict(f._cache)\n"
        "f._cache.clear()\n"
        "assert forced['idna'] is f.have('idna'), forced\n"
        "assert forced['doh'] is False and forced['doq'] is False, forced\n"
        "import importlib.metadata\n"  # the deferred module still works when used
        "assert importlib.metadata.version('dnspython')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


DSN = str(
    Path(__file__).resolve().parents[2] / "fixtures" / "bounces" / "cases" / "postfix_dsn_542.eml"
)


# What inspect, socket, random, urllib.parse and calendar import: a deferred module is
# not in -X importtime's list at all, these show that its code did not run either.
DEFERRED_DEPENDENCIES = (
    "ast",
    "dis",
    "tokenize",
    "_socket",
    "selectors",
    "_random",
    "ipaddress",
    "weakref",
    "_struct",
)
DEFERRED = (
    "inspect",
    "socket",
    "random",
    "urllib.parse",
    "calendar",
    # email's header codec and the body encoders: for writing mail, and for decoding an
    # 8-bit header (none of the fixture bounces has one).
    "email.header",
    "email.quoprimime",
    "email.base64mime",
    # the MIME parser's defect classes: a well-formed message has none.
    "email.errors",
    # dataclasses.asdict's deep copies; base64's base85 codecs.
    "copy",
    "struct",
)


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["text", "json"])
def test_explain_of_one_message_imports_only_the_bounce_path(extra: list[str]) -> None:
    # One process per bounce (a mail filter, a pipe transport): the MIME parser and the
    # bounce tables, not the probe report's model, the probe confirmation or the engine.
    code, modules = imported("explain", "--file", DSN, *extra)
    assert code == 0
    forbidden = (
        "asyncio",
        "ssl",
        "dns",
        "aiosmtplib",
        "cryptography",
        "rich",
        *PIPELINE_BUT_BOUNCES,
        "smtpdiag.model.core",
        "smtpdiag.model.dns",
        "smtpdiag.model.policy",
        "smtpdiag.bounces.confirmation",
        "smtpdiag.narrate.confirmation",
        "smtpdiag.diagnosis.engine",
        "smtpdiag.narrate.rules",
        "smtpdiag.report.text",
        "smtpdiag.report.jsonout",
        # the batch side of bounces/ (readers, summaries, confirmation), not its parser
        "smtpdiag.bounces.batch",
        "smtpdiag.bounces.confirm",
        "smtpdiag.bounces.logs",
        "smtpdiag.bounces.model",
        "smtpdiag.bounces.readers",
        "smtpdiag.cli.check",
        *METADATA,
        # argparse's default help width: the parser takes it without shutil's imports.
        "shutil",
        "bz2",
        "lzma",
        # What the standard modules on the path import and the path never calls
        # (deferred: see smtpdiag.cli.deferred): inspect's compiler modules for
        # dataclasses, socket, random, urllib.parse and calendar for email.utils.
        *DEFERRED_DEPENDENCIES,
        *DEFERRED,
        # The probe options' table and defaults: added to the parser only for a command
        # line that can use them.
        "smtpdiag.cli.options",
        "smtpdiag.defaults",
    )
    assert offenders(modules, forbidden) == []
    assert "email.parser" in modules  # the message was read as MIME (a DSN)
    # The codec of the charset the message declares (us-ascii), not every codec mail
    # uses: resolving the allowlist's aliases imported all 45 of them.
    codecs = {m for m in modules if m.startswith("encodings.")}
    assert codecs <= {"encodings.aliases", "encodings.ascii", "encodings.utf_8"}, codecs
    if extra == ["--json"]:
        assert "textwrap" not in modules  # wrapping (and its patterns) is the text's


def test_only_one_shot_commands_run_without_the_cycle_collector() -> None:
    # probe and check are bounded by one probe's deadline and caps, explain of one
    # bounce by its input limit; watch, bulk, demo --serve and explain --batch (any
    # prefix argparse takes for it) run long and must keep collecting cycles.
    code = (
        "import gc, sys\n"
        "from smtpdiag.cli import COMMANDS, _own_process\n"
        "off = []\n"
        "runs = [(name, [name]) for name in COMMANDS]\n"
        "runs += [('explain --batch', ['explain', '--batch', 'x.mbox'])]\n"
        "runs += [('explain --bat', ['explain', '--bat', 'x.mbox'])]\n"
        "for label, argv in runs:\n"
        "    gc.enable()\n"
        "    _own_process(argv[0], argv)\n"
        "    off += [] if gc.isenabled() else [label]\n"
        "print(','.join(off))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=60, capture_output=True, text=True
    )
    assert out.stdout.strip().split(",") == ["probe", "explain", "check"]


def test_command_process_freezes_what_lives_to_exit(lab: DemoLab) -> None:
    # The process running the command skips the shutdown collection; main(argv) called
    # by a program or a test leaves the caller's collector alone.
    code = (
        "import gc, sys\n"
        "from smtpdiag.cli import main\n"
        "sys.argv = ['smtpdiag', *sys.argv[1:]]\n"
        "assert main(sys.argv[1:]) == 0 and gc.isenabled() and gc.get_freeze_count() == 0\n"
        "assert main() == 0 and not gc.isenabled() and gc.get_freeze_count() > 0\n"
    )
    argv = ["probe", "healthy.demo.test", "--json", *probe_args(lab)]
    subprocess.run(
        [sys.executable, "-c", code, *argv],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL,
    )


# The task engine of `bulk --engine celery`: the local engine never loads it.
TASK_ENGINE = ("celery", "kombu", "billiard", "redis", "smtpdiag.triage.cluster")


def test_local_bulk_imports_no_task_engine(lab: DemoLab, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("nowhere.invalid\n")
    _code, modules = imported("bulk", str(source), "--workers", "0", *probe_args(lab))
    assert "smtpdiag.triage.run" in modules
    assert offenders(modules, TASK_ENGINE) == []


def test_plain_import_is_cheap_and_reaches_submodules() -> None:
    code = (
        "import sys, smtpdiag\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('asyncio', 'ssl', 'rich', 'dns', 'aiosmtplib', 'cryptography', 'celery', "
        "'kombu', 'redis'))\n"
        "assert heavy == [], heavy\n"
        "assert callable(smtpdiag.health.check) and callable(smtpdiag.watch.watch)\n"
        "from smtpdiag import Phase, check\n"
        "assert check is smtpdiag.health.check\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_top_level_help_is_the_same_with_stubs() -> None:
    # The stubs' one-line help (cli.COMMANDS) must say what each subcommand's own
    # registration says: `--help` builds stubs, the full parser is built for tests.
    from smtpdiag.cli import build_parser

    assert build_parser(["--help"]).format_help() == build_parser().format_help()


def test_a_command_given_first_builds_only_its_own_parser() -> None:
    # The other commands' stubs only serve the top-level help; with the command first
    # that help cannot be asked for, and each stub costs a parser's set-up.
    from smtpdiag.cli import COMMANDS, build_parser

    def commands(argv: list[str]) -> set[str]:
        parser = build_parser(argv)
        (sub,) = (a for a in parser._actions if a.dest == "command")
        assert sub.choices is not None
        return set(sub.choices)

    assert commands(["explain", "--file", "x.eml"]) == {"explain"}
    assert commands(["probe", "example.test", "--json"]) == {"probe"}
    # A top-level option first: its help may list the commands.
    assert commands(["--help", "explain"]) == set(COMMANDS)
    assert commands(["--version"]) == set(COMMANDS)
    assert commands([]) == set(COMMANDS)


def test_help_before_the_command_lists_every_command() -> None:
    from smtpdiag.cli import COMMANDS

    proc = subprocess.run(
        [sys.executable, "-m", "smtpdiag", "--help", "explain"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert all(f"    {name}" in proc.stdout for name in COMMANDS), proc.stdout


@pytest.mark.parametrize("columns", [None, "", "0", "abc", "100", "-5"])
def test_help_width_is_what_argparse_would_take(
    columns: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from smtpdiag.cli.common import _help_width

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _help_width() == shutil.get_terminal_size().columns - 2


@pytest.mark.parametrize(
    ("argv", "waiting"),
    [
        (["--file", DSN], DEFERRED),
        (["--file", DSN, "--json"], DEFERRED),
        (["--file", DSN, "--full"], DEFERRED),
        # A bounce line is no MIME message: the email package's own code never runs.
        ([BOUNCE], (*DEFERRED, "email")),
    ],
    ids=["text", "json", "full", "line"],
)
def test_one_bounce_process_never_runs_the_deferred_modules(
    argv: list[str], waiting: tuple[str, ...]
) -> None:
    # The whole command in its own process: each deferred module is still waiting for
    # its first use when the output is written.
    code = (
        "import sys\n"
        "from smtpdiag.cli import main\n"
        "from smtpdiag.cli.deferred import is_deferred\n"
        "sys.argv = ['smtpdiag', *sys.argv[1:]]\n"
        "code = main()\n"
        f"ran = [n for n in {waiting!r} if not is_deferred(n)]\n"
        "assert code == 0 and not ran, ran\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, "explain", *argv],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL,
    )


def test_probe_or_batch_explain_defers_nothing() -> None:
    code = (
        "import sys\n"
        "from smtpdiag.cli import _own_process\n"
        "from smtpdiag.cli.deferred import is_deferred\n"
        "for argv in (['explain', '--pro', 'x'], ['explain', '--batch', 'x'], ['probe', 'x']):\n"
        "    _own_process(argv[0], argv)\n"
        f"    assert not any(is_deferred(n) for n in {DEFERRED!r}), argv\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_deferred_module_runs_on_first_use_and_stays_one_module() -> None:
    # Every way of using a deferred module gets the real one: attribute, from-import,
    # a submodule through its package; the object in sys.modules stays the same, and
    # the standard modules that import it (dataclasses, email.utils) work in full.
    code = (
        "import sys\n"
        "from smtpdiag.cli.deferred import defer, is_deferred\n"
        f"defer({DEFERRED!r})\n"
        "held = {n: sys.modules[n] for n in " + repr(DEFERRED) + "}\n"
        # The import statement reads __spec__ of a module in sys.modules: that must not
        # run it (importlib.util.LazyLoader's modules run on any attribute read).
        "import socket, calendar, urllib.parse\n"
        "assert is_deferred('socket') and is_deferred('calendar')\n"
        "assert is_deferred('urllib.parse') and socket.__spec__.name == 'socket'\n"
        "assert is_deferred('socket')\n"
        "import dataclasses, email.utils, email.parser\n"
        f"assert all(is_deferred(n) for n in {DEFERRED!r})\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class NoDoc:\n"
        "    x: int\n"
        "assert NoDoc.__doc__ == 'NoDoc(x: int)' and not is_deferred('inspect')\n"
        "assert '@' in email.utils.make_msgid(domain='example.test')\n"
        "assert not is_deferred('random') and is_deferred('socket')\n"
        "from socket import AF_INET\n"
        "import socket\n"
        "assert socket.AF_INET is AF_INET and not is_deferred('socket')\n"
        "import urllib.parse\n"
        "assert urllib.parse.quote('a b') == 'a%20b'\n"
        "assert email.utils.parsedate_to_datetime('Mon, 07 Dec 2026 20:00:00 +0000').year == 2026\n"
        "assert email.utils.mktime_tz((2026, 12, 7, 20, 0, 0, 0, 1, -1, 0)) == 1796673600\n"
        "from email.header import decode_header\n"  # a package's deferred submodule
        "assert decode_header('=?utf-8?q?caf=C3=A9?=') == [(b'caf\\xc3\\xa9', 'utf-8')]\n"
        "import email.quoprimime\n"
        "assert email.quoprimime.body_decode('a=3Db') == 'a=b' and email.header.Header\n"
        "assert decode_header('=?utf-8?b?Y2Fmw6k=?=') == [(b'caf\\xc3\\xa9', 'utf-8')]\n"
        "assert dataclasses.asdict(NoDoc([1]))['x'] == [1]\n"
        "cut = 'Content-Type: multipart/mixed; boundary=b\\n\\n--b\\n\\nx\\n'\n"
        "(defect,) = email.message_from_string(cut).defects\n"  # no closing boundary
        "assert isinstance(defect, email.errors.CloseBoundaryNotFoundDefect)\n"
        "import base64\n"
        "assert base64.a85decode(base64.a85encode(b'abcd')) == b'abcd'\n"
        "assert all(sys.modules[n] is m and not is_deferred(n) for n, m in held.items())\n"
        "assert sys.modules['urllib'].parse is held['urllib.parse']\n"
        "assert socket.__spec__.name == 'socket' and socket.__file__.endswith('socket.py')\n"
        "defer(['inspect'])\n"  # already imported: left alone
        "assert not is_deferred('inspect')\n"
        "defer(['_csv'])\n"  # an extension module: left to the import system
        "assert '_csv' not in sys.modules and not is_deferred('_csv')\n"
        "defer(['smtpdiag_no_such_module'])\n"  # not found: left to the import system
        "assert 'smtpdiag_no_such_module' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _explain_options(parser: object) -> set[str]:
    (sub,) = (a for a in parser._actions if a.dest == "command")  # type: ignore[attr-defined]
    return {opt for a in sub.choices["explain"]._actions for opt in a.option_strings}


def test_explain_of_one_bounce_parses_without_the_probe_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from smtpdiag.cli import build_parser
    from smtpdiag.cli.common import UsageExit

    full = _explain_options(build_parser())
    assert {"--probe", "--nameserver", "--config", "--timeout", "-4"} <= full
    light = ["explain", "--file", "x.eml", "--json", "--width=70", "--full", "--color", "never"]
    parser = build_parser(light)
    assert "--nameserver" not in _explain_options(parser)
    args = parser.parse_args(light)
    assert (args.file, args.json, args.width, args.full) == ("x.eml", True, 70, True)
    assert "--nameserver" not in _explain_options(parser)
    # Stdin ("-") is a value; anything else that looks like an option adds them first,
    # so the parser sees the very command line it always saw.
    stdin = build_parser(["explain", "-"])
    stdin.parse_args(["explain", "-"])
    assert "--nameserver" not in _explain_options(stdin)
    for argv in (
        ["explain", "x", "--nameserver", "127.0.0.1"],
        ["explain", "x", "--probe"],
        ["explain", "x", "--js"],  # an abbreviation: argparse decides with every option
        ["explain", "--width", "-5", "x"],  # a value that looks like an option
        ["explain", "--", "-x"],
        ["explain", "-h"],
    ):
        parser = build_parser(argv)
        # Usage errors and help end in UsageExit: what matters is which parser saw them.
        with contextlib.suppress(UsageExit):
            parser.parse_args(argv)
        assert _explain_options(parser) == full, argv


def test_explain_help_and_usage_list_the_probe_options() -> None:
    from smtpdiag.cli import build_parser

    def explain_parser(argv: list[str] | None) -> object:
        (sub,) = (a for a in build_parser(argv)._actions if a.dest == "command")
        assert sub.choices is not None
        return sub.choices["explain"]

    whole = explain_parser(None)
    for method in ("format_help", "format_usage"):
        light = explain_parser(["explain", "--file", "x.eml"])
        assert getattr(light, method)() == getattr(whole, method)(), method
