"""The command's dnspython: optional features decided without ``importlib.metadata``.

dnspython asks at import time which optional packages it may use (``dns._features``:
``idna`` for IDNA 2008 names, ``doh`` for DNS over HTTPS) and answers by reading the
installed packages' metadata. Importing ``importlib.metadata`` alone costs about 45M
instructions per process here (a quarter of a whole ``openssl s_client`` loop over six
routes), paid by every ``probe`` and ``check``. So the command, before the resolve stage
first imports ``dns``, gives dnspython the answers it would compute for this process:

- ``doh`` and ``doq``: False. The command never asks over HTTPS or QUIC; False only
  spares importing an HTTP or QUIC client that dnspython would load for nothing. This
  is why only the CLI does it: it owns its process, while a program that imports
  smtpdiag as a library may use dnspython's DNS over HTTPS itself.
- ``idna``: dnspython's own requirement (``idna>=X``) checked against the ``idna``
  package's own version string, which is the metadata's version without the metadata.

``importlib.metadata`` is deferred (:mod:`.deferred`), not replaced: the first attribute
read from it that it does not have yet (by dnspython asking about another feature, or by
anything else) loads the real module into the same module object. When anything is not
as expected (dnspython already imported, another requirement format), nothing is forced
and dnspython decides as usual.
``tests/cli/test_import_cost.py`` checks that the probe path does not load the metadata
machinery, and that the forced answers equal dnspython's own.
"""

from __future__ import annotations

import sys
import types

from .deferred import defer

__all__ = ["prime"]

_METADATA = "importlib.metadata"


def _idna_version() -> str | None:
    try:
        from idna.package_data import __version__
    except ImportError:
        return None
    return str(__version__)


def _decide(features: types.ModuleType) -> dict[str, bool] | None:
    requirements = getattr(features, "_requirements", None)
    parse = getattr(features, "_tuple_from_text", None)
    if not isinstance(requirements, dict) or parse is None:
        return None
    idna = requirements.get("idna")
    if not (isinstance(idna, list) and len(idna) == 1 and str(idna[0]).startswith("idna>=")):
        return None
    have = _idna_version()
    minimum = str(idna[0]).partition(">=")[2]
    return {"doh": False, "doq": False, "idna": have is not None and parse(have) >= parse(minimum)}


def prime() -> None:
    """Answer dnspython's import-time feature questions; call before importing ``dns``."""
    if "dns._features" in sys.modules:
        return  # dnspython is already loaded: nothing left to save
    defer([_METADATA])
    try:
        import dns._features as features
    except ImportError:
        return
    decided = _decide(features)
    if decided is None:
        return  # an unknown dnspython: let it read the metadata itself
    for feature, value in decided.items():
        features.force(feature, value)
