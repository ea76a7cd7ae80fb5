"""Every code block in README.md and docs/*.md is executed or checked, so examples
cannot drift from the code.

How a block is treated (a marker is an HTML comment on the line before the fence,
``<!-- doc-test: MODE reason -->``; see "Documentation examples are tested" in the
README):

- ``sh`` blocks run line by line in bash, and ``python`` blocks run as a script in a
  fresh interpreter. A ``sh`` block that does not name the nameserver ``127.0.0.1:5353``
  runs **exactly as printed**, as a reader runs it after ``smtpdiag demo --serve``: the
  test starts ``demo --serve`` once, takes the one ``export SMTPDIAG_CONFIG=...`` line it
  prints, and runs each command after that line (so ``smtpdiag probe healthy.demo.test``
  probes the demo's servers through the profile). Python blocks, and ``sh`` blocks that
  name ``127.0.0.1:5353`` (docs/), run against the test kit instead: a local DNS server
  answering for ``example.org`` (MX ``mx.example.org`` on a loopback address) and
  scripted SMTP servers with real TLS on ports 25, 587 and 465 there (binding those
  needs root, as in CI; elsewhere those runs skip with the reason). There the docs'
  nameserver ``127.0.0.1:5353`` is replaced by the kit's, output paths under
  ``/var/lib/node_exporter/`` by a temporary directory, and ``SSL_CERT_FILE`` names the
  kit's CA. A command that would reach the network (``probe``/``check``/``watch``/
  ``bulk``/``explain --probe``) must get its nameserver from ``--nameserver`` or the
  demo's profile: without one it would ask the system resolver, so the test fails
  instead of running it. A run passes when it ends without a traceback or usage error
  (exit 2); the verdict's exit codes (0, 1, 3, 4, 5) are fine.
- ``<!-- doc-test: pytest -->``: a python block that is a test module of a user's project;
  it runs under pytest with the plugin, ``--smtpdiag-nameserver`` pointing at the kit.
- ``<!-- doc-test: flags reason -->``: cannot run here (monitoring or CI configuration, a
  long watch, the root-only lab, a server that runs until stopped): every
  ``--option`` in it must be an option of the smtpdiag subcommand it names; ``make X``
  must be a Makefile target; a ``python FILE`` script must exist and answer ``--help``.
- ``<!-- doc-test: syntax reason -->``: python that needs a framework we do not install
  (e.g. a web app): compiled, not run.
- ``<!-- doc-test: output -->``: sample output or a file tree: only the smtpdiag
  options it shows must exist (for the usage synopsis) .
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smtpdiag.testing.certs import TestPki
from smtpdiag.testing.dnsserver import ThreadedDnsServer
from smtpdiag.testing.smtpserver import Behaviour, ServerSet, ServerSpec

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
MODES = {"run", "pytest", "flags", "syntax", "output"}
SUBCOMMANDS = (
    "probe",
    "explain",
    "check",
    "watch",
    "bulk",
    "tlsrpt",
    "demo",
    "serve",
    "render",
    "worker",
)
MX_ADDRESS = "127.77.9.25"  # the kit's mx.example.org
DOC_NAMESERVER = "127.0.0.1:5353"
KIT_NETWORK = "127.0.0.0/8"  # where the kit's servers listen
ALLOW_KIT = f"--allow-targets {KIT_NETWORK}"


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str
    mode: str
    reason: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


_MARKER = re.compile(r"<!--\s*doc-test:\s*(\w+)\s*(.*?)\s*-->")


def _blocks(doc: Path) -> list[Block]:
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        indent, lang = fence.groups()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        marker = _MARKER.search(lines[j]) if j >= 0 else None
        mode, reason = (marker.group(1), marker.group(2)) if marker else ("run", "")
        blocks.append(Block(doc, start + 1, lang, mode, reason, "\n".join(body) + "\n"))
        i += 1
    return blocks


ALL_BLOCKS = [b for doc in DOCS for b in _blocks(doc)]


def _of(*modes: str, langs: tuple[str, ...] = ()) -> list[pytest.param]:  # type: ignore[valid-type]
    return [
        pytest.param(b, id=b.id)
        for b in ALL_BLOCKS
        if b.mode in modes and (not langs or b.lang in langs)
    ]


# ----------------------------------------------------------------------------- the kit


@dataclass(frozen=True)
class Kit:
    nameserver: str
    ca_file: str
    workdir: Path

    def substitute(self, text: str) -> str:
        host, port = self.nameserver.split(":")
        text = text.replace(DOC_NAMESERVER, self.nameserver)
        # The kit's MX is on loopback, which smtpdiag probes only when allowed: the
        # commands get --allow-targets, the library configs that name the docs'
        # nameserver get allow_targets.
        text = re.sub(r"\bsmtpdiag (probe|check|watch) ", rf"smtpdiag \1 {ALLOW_KIT} ", text)
        text = text.replace(
            'Nameserver("127.0.0.1", 5353),))',
            f'Nameserver("{host}", {port}),)), allow_targets=("{KIT_NETWORK}",)',
        )
        text = text.replace('Nameserver("127.0.0.1", 5353)', f'Nameserver("{host}", {port})')
        return text.replace("/var/lib/node_exporter/", f"{self.workdir}/node_exporter/")

    def env(self) -> dict[str, str]:
        return {**_env(self.workdir), "SSL_CERT_FILE": self.ca_file}


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env.update(
        NO_COLOR="1",
        COLUMNS="100",
        GITHUB_STEP_SUMMARY=str(workdir / "step_summary.md"),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}",
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the examples run: `smtpdiag explain --file bounce.eml` reads a bounce here."""
    workdir = tmp_path_factory.mktemp("docs")
    (workdir / "node_exporter" / "textfile").mkdir(parents=True)
    shutil.copy(_a_bounce(), workdir / "bounce.eml")
    return workdir


@pytest.fixture(scope="module")
def kit(workdir: Path) -> Iterator[Kit]:
    pki = TestPki(names=("mx.example.org",))
    specs = [
        ServerSpec(
            f"mx:{port}", Behaviour.HEALTHY, port == 465, "good", MX_ADDRESS, "mx.example.org", port
        )
        for port in (25, 587, 465)
    ]
    zones = {"example.org": {"@": ["MX 10 mx"], "mx": [f"A {MX_ADDRESS}"]}}
    servers = ServerSet(specs, pki=pki)
    try:
        servers.start()
    except (RuntimeError, OSError) as exc:
        pki.cleanup()
        pytest.skip(f"cannot serve ports 25/587/465 on {MX_ADDRESS} (needs root): {exc}")
    try:
        with ThreadedDnsServer(zones=zones) as dns:
            ns = dns.nameserver
            yield Kit(f"{ns.address}:{ns.port}", str(pki.ca_file), workdir)
    finally:
        servers.stop()
        pki.cleanup()


@dataclass(frozen=True)
class Demo:
    """``smtpdiag demo --serve`` running, and the one line it printed to use it."""

    export: str  # "export SMTPDIAG_CONFIG=/tmp/.../smtpdiag.toml", as printed
    workdir: Path

    def script(self, command: str) -> str:
        # What a reader does: paste the printed line, then the README's command.
        return f"{self.export}\n{command}"


@pytest.fixture(scope="module")
def demo(workdir: Path) -> Iterator[Demo]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdiag", "demo", "--serve", "1800", "--color", "never"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_env(workdir), "TMPDIR": str(workdir)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    stdout = proc.stdout
    lines: queue.Queue[str] = queue.Queue()
    # A reader thread: select() on a buffered pipe misses lines already read ahead.
    threading.Thread(
        target=lambda: [lines.put(line) for line in iter(stdout.readline, "")], daemon=True
    ).start()
    seen: list[str] = []
    deadline = time.monotonic() + 90
    try:
        while (left := deadline - time.monotonic()) > 0 and " bulk -" not in "".join(seen[-1:]):
            try:
                seen.append(lines.get(timeout=left))
            except queue.Empty:
                break
        exports = [line.strip() for line in seen if line.strip().startswith("export ")]
        assert len(exports) == 1 and " bulk -" in seen[-1], "demo --serve: " + "".join(seen)
        yield Demo(exports[0], workdir)
    finally:
        proc.send_signal(signal.SIGTERM)  # how --serve is stopped early
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        stdout.close()
        proc.stderr.close()


def _a_bounce() -> Path:
    candidates = sorted((ROOT / "fixtures" / "bounces").rglob("*.eml"))
    assert candidates, "fixtures/bounces holds no .eml file"
    return candidates[0]


# ----------------------------------------------------------------------------- checks


def _commands(text: str) -> list[str]:
    """Logical shell lines: comments dropped, continuations joined."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append(stripped)
    return out


def _strip_comment(line: str) -> str:
    # A trailing "  # comment" (documentation); '#' inside quotes is kept.
    lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        list(lexer)
    except ValueError:
        return line
    m = re.search(r"\s+#\s[^'\"]*$", line)
    return line[: m.start()] if m else line


def _needs_network(command: str) -> bool:
    words = command.split()
    if "smtpdiag" not in " ".join(words):
        return False
    return any(w in words for w in ("probe", "check", "watch", "bulk")) or (
        "explain" in words and "--probe" in words
    )


def _options(sub: str) -> set[str]:
    from smtpdiag.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    sub_parser = action.choices[sub]  # type: ignore[index]
    return {opt for a in sub_parser._actions for opt in a.option_strings}


def _check_flags(text: str) -> None:
    """Every --option must belong to a smtpdiag subcommand the block names."""
    subs = [s for s in SUBCOMMANDS if re.search(rf"(smtpdiag\S*\"?,?\s+\"?|^){s}\b", text, re.M)]
    # pytest's own options, curl's, and a script's (checked against its --help) aside.
    others = ("pytest", "curl ", "python ", "python3 ")
    lines = [ln for ln in text.splitlines() if not any(o in ln for o in others)]
    options = {o for ln in lines for o in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", ln)}
    if not options:
        return
    assert subs, f"options {sorted(options)} but no smtpdiag subcommand named"
    known = set().union(*(_options(s) for s in subs)) | {"--help", "--version"}
    assert options <= known, f"unknown options for {subs}: {sorted(options - known)}"


def _check_make_and_scripts(text: str) -> None:
    makefile = (ROOT / "Makefile").read_text()
    for command in _commands(text):
        words = shlex.split(_strip_comment(command))
        if words and words[0] == "make":
            for target in words[1:]:
                assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"no make {target}"
        if len(words) > 1 and words[0] in ("python", "python3") and words[1].endswith(".py"):
            script = ROOT / words[1]
            assert script.is_file(), f"{words[1]} does not exist"
            proc = subprocess.run(
                [sys.executable, str(script), "--help"],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            assert proc.returncode == 0, proc.stderr
            for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", command):
                assert option in proc.stdout, f"{words[1]} has no {option}"


def _assert_ran_cleanly(what: str, proc: subprocess.CompletedProcess[str]) -> None:
    output = proc.stdout + proc.stderr
    if "--plugin" in what and proc.stdout.startswith("SMTPDIAG "):
        # Monitoring-plugin codes: 0-3, a usage error is UNKNOWN with its own line.
        assert proc.returncode in (0, 1, 2, 3), f"{what}\n{output[-3000:]}"
        assert "usage error" not in proc.stdout and "Traceback" not in output, what
        return
    assert "Traceback" not in output, f"{what}\n{output[-3000:]}"
    assert "usage error" not in output and "smtpdiag: error:" not in proc.stderr, (
        f"{what}\n{output[-3000:]}"
    )
    # --plugin speaks the monitoring-plugins convention: 2 is CRITICAL there, not usage.
    plugin_critical = "--plugin" in what and proc.stdout.startswith("SMTPDIAG CRITICAL")
    assert proc.returncode in (0, 1, 3, 4, 5) or plugin_critical, (
        f"{what} exit {proc.returncode}\n{output[-3000:]}"
    )


# ----------------------------------------------------------------------------- tests


def test_every_block_has_a_known_mode() -> None:
    assert ALL_BLOCKS, "no code blocks found"
    for b in ALL_BLOCKS:
        assert b.mode in MODES, f"{b.id}: unknown doc-test mode {b.mode!r}"
        if b.mode == "run":
            assert b.lang in ("sh", "python"), (
                f"{b.id}: a ```{b.lang or '(no language)'} block cannot run; mark it "
                "<!-- doc-test: flags|syntax|output reason -->"
            )
        if b.mode in ("flags", "syntax"):
            assert b.reason, f"{b.id}: say why the block cannot run"


def _on_the_kit(block: Block) -> bool:
    """Blocks that name the docs' nameserver run on the kit; the others verbatim."""
    return DOC_NAMESERVER in block.text


def _check_resolver(block: Block, command: str, profile: bool) -> None:
    if not _needs_network(command):
        return
    named = "--nameserver" in command or (profile and "--no-config" not in command)
    assert named, f"{block.id}: `{command}` would ask the system resolver; name --nameserver"


def _sh_blocks(kit: bool) -> list[pytest.param]:  # type: ignore[valid-type]
    return [
        pytest.param(b, id=b.id)
        for b in ALL_BLOCKS
        if b.mode == "run" and b.lang == "sh" and _on_the_kit(b) is kit
    ]


@pytest.mark.parametrize("block", _sh_blocks(kit=False))
def test_shell_block_runs_as_printed(block: Block, demo: Demo) -> None:
    """After `smtpdiag demo --serve` and the line it prints, exactly as written."""
    for command in _commands(block.text):
        _check_resolver(block, command, profile=True)
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", demo.script(command)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=demo.workdir,
            env=_env(demo.workdir),
        )
        _assert_ran_cleanly(f"{block.id}: {command}", proc)


@pytest.mark.parametrize("block", _sh_blocks(kit=True))
def test_shell_block_runs(block: Block, kit: Kit) -> None:
    for command in _commands(kit.substitute(block.text)):
        command = _strip_comment(command)
        _check_resolver(block, command, profile=False)
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=kit.workdir,
            env=kit.env(),
        )
        _assert_ran_cleanly(f"{block.id}: {command}", proc)


@pytest.mark.parametrize("block", _of("run", langs=("python",)))
def test_python_block_runs(block: Block, kit: Kit) -> None:
    code = kit.substitute(block.text)
    if "smtpdiag.probing" in code or "check" in code:
        assert "5353" in block.text or "Nameserver(" in block.text, (
            f"{block.id}: a probing example must name its nameserver"
        )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=kit.workdir,
        env=kit.env(),
    )
    assert proc.returncode == 0, f"{block.id}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("block", _of("pytest"))
def test_pytest_block_runs(block: Block, kit: Kit, tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_doc_example.py").write_text(kit.substitute(block.text))
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests", "--smtpdiag-nameserver", kit.nameserver],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=kit.env(),
    )
    assert proc.returncode == 0, f"{block.id}\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


@pytest.mark.parametrize("block", _of("flags"))
def test_flags_block_names_real_options(block: Block) -> None:
    _check_flags(block.text)
    _check_make_and_scripts(block.text) if block.lang == "sh" else None


@pytest.mark.parametrize("block", _of("syntax"))
def test_syntax_block_compiles(block: Block) -> None:
    compile(block.text, block.id, "exec")


def _synopsis_groups(text: str) -> list[str]:
    """Usage lines: one starting with ``smtpdiag SUB`` plus its indented continuations."""
    groups: list[str] = []
    for line in text.splitlines():
        if re.match(rf"smtpdiag ({'|'.join(SUBCOMMANDS)})\b", line):
            groups.append(line)
        elif groups and line.startswith(" ") and line.strip().startswith("["):
            groups[-1] += "\n" + line
    return groups


@pytest.mark.parametrize("block", _of("output"))
def test_output_block_shows_real_options(block: Block) -> None:
    for group in _synopsis_groups(block.text):
        _check_flags(group)


def test_the_checks_can_fail() -> None:
    """The flag check rejects an option that does not exist, and a missing make target."""
    with pytest.raises(AssertionError, match="--no-such-option"):
        _check_flags("smtpdiag check example.org --no-such-option\n")
    with pytest.raises(AssertionError, match="no make"):
        _check_make_and_scripts("make no-such-target\n")
    assert _needs_network("smtpdiag probe example.org") and not _needs_network("smtpdiag demo")
    block = Block(ROOT / "README.md", 1, "sh", "run", "", "")
    with pytest.raises(AssertionError, match="system resolver"):
        _check_resolver(block, "smtpdiag probe example.org", profile=False)
    with pytest.raises(AssertionError, match="system resolver"):
        _check_resolver(block, "smtpdiag probe example.org --no-config", profile=True)
    _check_resolver(block, "smtpdiag probe healthy.demo.test", profile=True)
