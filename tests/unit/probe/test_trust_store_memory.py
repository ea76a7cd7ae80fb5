"""Loading a trust store costs memory in proportion to the file, not a fixed 16 MiB."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from smtpdiag.certmatch import load_trust_store
from smtpdiag.testing.certs import TestPki


def test_trust_store_load_is_proportionate(tmp_path: Path) -> None:
    pki = TestPki(directory=tmp_path)
    try:
        load_trust_store.cache_clear()
        tracemalloc.start()
        try:
            store = load_trust_store(str(pki.ca_file))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert store is not None
        # A one-certificate bundle: well under 1 MB (reading with a 16 MiB size
        # argument allocated the whole 16 MiB up front).
        assert peak < 1_000_000, f"peak {peak / 1e6:.1f} MB"
    finally:
        load_trust_store.cache_clear()
        pki.cleanup()
