"""Domain names as the user types them, checked and brought to one canonical form.

The canonical form is what every later stage and the JSON carry: the IDNA (A-label)
encoding, lower case, without the trailing dot. A mail domain must be a host name in
the sense of RFC 5321 section 4.1.2 (``Domain = sub-domain *("." sub-domain)``, letters,
digits and hyphens), at most 253 characters with labels of at most 63 (RFC 1035 2.3.4).
An address literal (``[198.51.100.1]``) is a valid SMTP destination but not a *domain*:
it has no MX records to resolve, so it is rejected here with a clear message.
"""

from __future__ import annotations

import functools
import ipaddress
import re

import dns.exception
import dns.name

from ..errors import ConfigError
from ..textsafe import shown

__all__ = ["MAX_DOMAIN_LENGTH", "MAX_LABEL_LENGTH", "is_ip_literal", "normalize_domain"]

#: RFC 1035 2.3.4 allows 255 octets on the wire, i.e. 253 characters of text.
MAX_DOMAIN_LENGTH = 253
#: RFC 1035 2.3.4.
MAX_LABEL_LENGTH = 63

# RFC 5321 4.1.2: Let-dig [Ldh-str]; A-labels ("xn--...") fit this pattern too.
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")

# IDNA 2008 (UTS 46 mapping) when the ``idna`` package is there, as browsers and
# modern MTAs use; the stdlib's IDNA 2003 codec otherwise.
_CODEC: dns.name.IDNACodec = (
    dns.name.IDNA_2008_Practical if dns.name.have_idna_2008 else dns.name.IDNA_2003
)


def _fail(text: str, reason: str) -> ConfigError:
    return ConfigError(f"invalid domain {shown(text, 80)}: {reason}")


@functools.lru_cache(maxsize=4096)  # pure; asked for the same few hosts per domain
def is_ip_literal(text: str) -> bool:
    """True when ``text`` is an IP address, bare or as an SMTP address literal.

    Accepts ``198.51.100.1``, ``[198.51.100.1]``, ``::1``, ``[::1]`` and ``[IPv6:::1]``
    (RFC 5321 4.1.3), with or without one trailing dot.
    """
    body = text.strip()
    if body.endswith("."):
        body = body[:-1]
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
        if body[:5].lower() == "ipv6:":
            body = body[5:]
    try:
        ipaddress.ip_address(body)
    except ValueError:
        return False
    return True


def normalize_domain(text: str) -> str:
    """Check a domain typed by a user and return its canonical form.

    Strips surrounding white space and one trailing dot, lower-cases and IDNA-encodes
    (``Bücher.Example`` becomes ``xn--bcher-kva.example``).

    Raises:
        ConfigError: With a one-line message when ``text`` is empty, too long, has an
            empty or over-long label, contains white space, control or other
            characters not allowed in a host name, or is an IP address.
    """
    if not isinstance(text, str):
        raise ConfigError(f"domain must be text, got {type(text).__name__}")
    stripped = text.strip()
    ascii_text = _to_ascii(_body(stripped), stripped).lower()
    _check_labels(ascii_text, stripped)
    return ascii_text


def _body(stripped: str) -> str:
    """The domain without its trailing dot, after the checks that need no IDNA."""
    if not stripped:
        raise ConfigError("invalid domain '': empty")
    if len(stripped) > 4 * MAX_DOMAIN_LENGTH:
        raise _fail(stripped, f"longer than {MAX_DOMAIN_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in stripped):
        raise _fail(stripped, "contains white space or control characters")
    if is_ip_literal(stripped):
        raise _fail(stripped, "is an IP address, not a domain (it has no MX records)")
    body = stripped[:-1] if stripped.endswith(".") else stripped
    if not body:
        raise _fail(stripped, "empty")
    if any(not label for label in body.split(".")):
        raise _fail(stripped, "empty label (two dots in a row, or a leading dot)")
    if "@" in body:
        raise _fail(stripped, "looks like an e-mail address; give only the part after '@'")
    return body


def _to_ascii(body: str, stripped: str) -> str:
    """IDNA-encode a non-ASCII name (plain ASCII needs no mapping; checking it directly
    gives precise messages)."""
    if body.isascii():
        return body
    try:
        name = dns.name.from_unicode(body, origin=None, idna_codec=_CODEC)
        return name.to_text(omit_final_dot=True)
    except dns.name.LabelTooLong:
        raise _fail(stripped, f"a label is longer than {MAX_LABEL_LENGTH} characters") from None
    except dns.name.NameTooLong:
        raise _fail(stripped, f"longer than {MAX_DOMAIN_LENGTH} characters") from None
    except (dns.exception.DNSException, UnicodeError, ValueError):
        raise _fail(stripped, "not a valid internationalized domain name") from None


def _check_labels(ascii_text: str, stripped: str) -> None:
    if len(ascii_text) > MAX_DOMAIN_LENGTH:
        raise _fail(stripped, f"longer than {MAX_DOMAIN_LENGTH} characters")
    labels = ascii_text.split(".")
    for label in labels:
        if len(label) > MAX_LABEL_LENGTH:
            raise _fail(stripped, f"a label is longer than {MAX_LABEL_LENGTH} characters")
        if not _LABEL.match(label):
            raise _fail(
                stripped,
                f"label {shown(label, 70)} is not a host name label "
                "(letters, digits and inner hyphens only; RFC 5321 4.1.2)",
            )
    # RFC 3696 2: a top-level domain is never all-numeric; "1.2.3" is a mistyped
    # address, not a domain.
    if labels[-1].isdigit():
        raise _fail(stripped, "the last label is all digits (an IP address typo?)")
