"""Discovery for MCP authorization: the ``WWW-Authenticate`` challenge, Protected Resource
Metadata (RFC 9728) and Authorization Server metadata (RFC 8414, OpenID Connect Discovery),
in the orders the MCP specification (2025-11-25, "Authorization Server Discovery") requires,
plus the 2025-03-26 fallbacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "Challenge",
    "as_metadata_urls",
    "canonical_resource",
    "is_loopback",
    "origin_of",
    "parse_challenge",
    "prm_urls",
    "resource_matches",
]

_PARAM = re.compile(r'\s*([A-Za-z0-9_\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    """A parsed ``Bearer`` challenge (RFC 6750 §3, RFC 9728 §5.1).

    Attributes:
        resource_metadata: the Protected Resource Metadata URL, or None.
        scope: the space-separated scopes the resource asks for, or None.
        error: the error code (``invalid_token``, ``insufficient_scope``), or None.
    """

    resource_metadata: str | None = None
    scope: str | None = None
    error: str | None = None


def parse_challenge(header: str | None) -> Challenge:
    """Parse the ``Bearer`` challenge of a ``WWW-Authenticate`` header.

    Args:
        header: the header value; None or another scheme gives an empty challenge.

    Returns:
        The challenge's ``resource_metadata``, ``scope`` and ``error`` (each None if absent).
    """
    if not header:
        return Challenge()
    match = re.search(r"(?i)\bbearer\b", header)
    if match is None:
        return Challenge()
    rest = header[match.end() :]
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if m is None or m.end() == pos:
            break
        key = m.group(1).lower()
        value = re.sub(r"\\(.)", r"\1", m.group(2)) if m.group(2) is not None else m.group(3)
        # a following scheme ("Basic realm=...") ends the Bearer parameters
        params.setdefault(key, value)
        pos = m.end()
    return Challenge(
        resource_metadata=params.get("resource_metadata") or None,
        scope=params.get("scope") or None,
        error=params.get("error") or None,
    )


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, scheme and host lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def canonical_resource(url: str) -> str:
    """The canonical URI of an MCP server (RFC 8707 §2, MCP "Canonical Server URI").

    Lower-case scheme and host, no query or fragment, no trailing slash (except the root
    path, which is dropped entirely).
    """
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))


def resource_matches(resource: str, server_url: str) -> bool:
    """Whether PRM ``resource`` may stand for ``server_url`` (RFC 9728 §3.3, MCP spec):
    the same origin, and its path equal to or a path prefix of the server's.
    """
    want = urlsplit(canonical_resource(server_url))
    got = urlsplit(canonical_resource(resource))
    if (got.scheme, got.netloc) != (want.scheme, want.netloc):
        return False
    if not got.path:
        return True
    return want.path == got.path or want.path.startswith(got.path + "/")


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is a loopback name (localhost, 127.0.0.0/8, ::1)."""
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or host == "::1" or host.startswith("127.")


def prm_urls(server_url: str, challenge: Challenge) -> list[str]:
    """Protected Resource Metadata URLs to try, in order (MCP 2025-11-25; RFC 9728 §3.1).

    The challenge's ``resource_metadata``; then ``/.well-known/oauth-protected-resource``
    with the server's path appended (when it has one); then the root one.
    """
    parts = urlsplit(server_url)
    origin = origin_of(server_url)
    urls: list[str] = []
    if challenge.resource_metadata:
        urls.append(challenge.resource_metadata)
    path = parts.path.rstrip("/")
    if path:
        urls.append(f"{origin}/.well-known/oauth-protected-resource{path}")
    urls.append(f"{origin}/.well-known/oauth-protected-resource")
    return list(dict.fromkeys(urls))


def as_metadata_urls(issuer: str) -> list[str]:
    """Authorization server metadata URLs for ``issuer``, in the MCP spec's order.

    With a path (``https://a/t1``): RFC 8414 path insertion, OIDC path insertion, OIDC path
    appending. Without: ``/.well-known/oauth-authorization-server`` then
    ``/.well-known/openid-configuration``. A path issuer never uses the root variants.
    """
    origin = origin_of(issuer)
    path = urlsplit(issuer).path.rstrip("/")
    if path:
        return [
            f"{origin}/.well-known/oauth-authorization-server{path}",
            f"{origin}/.well-known/openid-configuration{path}",
            f"{origin}{path}/.well-known/openid-configuration",
        ]
    return [
        f"{origin}/.well-known/oauth-authorization-server",
        f"{origin}/.well-known/openid-configuration",
    ]


def same_issuer(a: str, b: str) -> bool:
    """Issuer identifiers compared as RFC 8414 §3.3 asks, tolerating one trailing slash."""
    return a.rstrip("/") == b.rstrip("/")


def str_list(metadata: Mapping[str, Any], key: str) -> list[str] | None:
    """``metadata[key]`` as a list of strings, or None when absent or malformed."""
    value = metadata.get(key)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None
