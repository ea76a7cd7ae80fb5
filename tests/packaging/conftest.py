"""Build the distributions once per session, and one fresh venv with the wheel installed
WITHOUT extras (what `pip install smtpdiag` gives a user).

The build uses ``python -m build`` (sdist first, then the wheel built *from the sdist*,
so a file missing from the sdist breaks the wheel build too). Installing the wheel needs
its runtime dependencies from the package index (network to the registry, as in CI).
Every test here is marked ``packaging``: deselect with ``-m 'not packaging'`` while
iterating; ``make test`` runs them.
"""

from __future__ import annotations

import os
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dist_kit import ROOT, Dist, PlainVenv, locked_pip_env, run_ok


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.packaging)


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    out = tmp_path_factory.mktemp("dist")
    run_ok(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        timeout=600,
        env={**os.environ, **locked_pip_env(tmp_path_factory.mktemp("pins"))},
    )
    (sdist,) = out.glob("smtpdiag-*.tar.gz")
    (wheel,) = out.glob("smtpdiag-*.whl")
    return Dist(sdist, wheel)


@pytest.fixture(scope="session")
def unpacked_sdist(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    with tarfile.open(dist.sdist) as tar:
        tar.extractall(out, filter="data")
    (top,) = out.iterdir()
    return top


@pytest.fixture(scope="session")
def plain_venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlainVenv]:
    venv = PlainVenv(tmp_path_factory.mktemp("plain") / "venv")
    run_ok([sys.executable, "-m", "venv", str(venv.path)], timeout=300)
    run_ok(
        [str(venv.python), "-m", "pip", "install", "-q", "--no-input", str(dist.wheel)],
        timeout=900,
        env={
            **venv.env(),
            **locked_pip_env(tmp_path_factory.mktemp("pins")),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        },
    )
    yield venv
