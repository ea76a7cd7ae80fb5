"""Health tests: shared helpers. The plugin test project is run in a subprocess only."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from health_lab import HealthLab, health_lab

# tests/health/plugin_project is a user's project that loads the pytest plugin; it is run
# by test_health_pytest_plugin.py in a subprocess with its own rootdir, never collected here.
collect_ignore = ["plugin_project"]


@pytest.fixture
def update_golden() -> bool:
    """Rewrite golden files instead of comparing (``SMTPDIAG_UPDATE_GOLDEN=1``)."""
    return os.environ.get("SMTPDIAG_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="session")
def lab() -> Iterator[HealthLab]:
    """The loopback health lab (DNS + scripted SMTP servers), shared by the session."""
    with health_lab() as running:
        yield running
