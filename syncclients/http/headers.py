"""Header validation: nothing with CR, LF or NUL is ever sent (header injection, RFC 9110
section 5.5)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import InvalidHeaderError

__all__ = ["check_header", "check_headers"]

# RFC 9110 section 5.1: field-name = token
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


def check_header(name: object, value: object) -> None:
    """Check one header before anything is sent.

    Args:
        name: must be a str token (RFC 9110 section 5.1).
        value: must be a str without CR, LF or NUL.

    Raises:
        InvalidHeaderError: naming the header (never its value, which may be a secret).
    """
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise InvalidHeaderError(f"invalid header name {name!r}")
    if not isinstance(value, str):
        raise InvalidHeaderError(f"header {name!r} must be a str, got {type(value).__name__}")
    if _BAD_VALUE.search(value):
        raise InvalidHeaderError(f"header {name!r} contains CR, LF or NUL; nothing was sent")


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Check every header and return them as a new dict (None gives ``{}``).

    Raises:
        InvalidHeaderError: the first invalid header.
    """
    if not headers:
        return {}
    for name, value in headers.items():
        check_header(name, value)
    return dict(headers)
