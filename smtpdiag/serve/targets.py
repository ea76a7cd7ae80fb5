"""The ``target`` and ``module`` query parameters, validated before anything is resolved."""

from __future__ import annotations

from ..errors import ConfigError
from ..resolve.names import normalize_domain

__all__ = ["DEFAULT_MODULE", "MAX_TARGET_LENGTH", "parse_query", "validate_target"]

#: Longest ``target`` accepted, in characters before IDNA (a domain is at most 253).
MAX_TARGET_LENGTH = 253
#: The module the probe options given to ``serve`` make.
DEFAULT_MODULE = "default"
#: Longest query string looked at (longer ones are refused, not truncated).
MAX_QUERY_LENGTH = 1024


def validate_target(text: str) -> str:
    """One domain name in canonical form; raises ConfigError with one line otherwise.

    Refuses lists, ports, URLs and IP addresses: the exporter probes what strangers
    type, so the parameter is exactly one mail domain (the address policy of the probe
    then decides which of its MX addresses may be reached).
    """
    if len(text) > MAX_TARGET_LENGTH:
        raise ConfigError(f"target longer than {MAX_TARGET_LENGTH} characters")
    if any(ch in text for ch in ",:/@[]"):
        raise ConfigError("target must be one domain name (no list, port, URL or address)")
    return normalize_domain(text)


def parse_query(query: str) -> dict[str, str]:
    """The query's parameters (each at most once); raises ConfigError when malformed."""
    from urllib.parse import parse_qsl

    if len(query) > MAX_QUERY_LENGTH:
        raise ConfigError("query string too long")
    try:
        pairs = parse_qsl(
            query, keep_blank_values=True, strict_parsing=bool(query), max_num_fields=8
        )
    except ValueError:
        raise ConfigError("malformed query string") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise ConfigError(f"parameter {key!r} given more than once")
        params[key] = value
    return params
