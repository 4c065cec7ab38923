"""Redaction of secrets in what we print: URLs, free text and command lines.

One module at the bottom layer (it imports nothing from the package), used by errors,
logging hooks, reprs, the MCP config loader and the CLI, so every place that shows a URL or
a command line hides the same things:

- **URL userinfo** (``https://user:pass@host/``, RFC 3986 section 3.2.1, whose use for
  passwords is deprecated) becomes ``***@``;
- **query parameters with a secret-looking name** (``api_key``, ``token``, ``key``,
  ``secret``, ``password``, ``sig``, ``signature``, ``access_token``, ``client_secret``,
  ``X-Amz-Signature``, ...) keep their name and lose their value (``api_key=***``);
- **command-line values after a secret-looking flag** (``--token X``, ``--token=X``,
  ``--api-key``, ``--password``, ``--secret``, ...), ``NAME=value`` words with a
  secret-looking name (``-e GITHUB_TOKEN=...``), and ``Authorization: <scheme> <value>``
  header words;
- **values expanded from the environment** (``${NAME}`` in an ``mcpServers`` file), shown as
  ``${NAME}`` again, given as a ``{name: value}`` mapping by the caller.

A name is secret-looking when one of its words (split on ``-``, ``_`` and ``.``, compared
case-insensitively) is in :data:`SECRET_WORDS`, or it is in :data:`SECRET_NAMES`, and it
is not in :data:`PUBLIC_NAMES` (``Idempotency-Key``, ``token_type``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "MASK",
    "PUBLIC_NAMES",
    "SECRET_NAMES",
    "SECRET_WORDS",
    "is_secret_name",
    "known_from",
    "redact_command",
    "redact_text",
    "redact_url",
    "strip_url",
]

#: What a hidden value is replaced with.
MASK = "***"

#: Words that make a (query parameter, flag, header, variable) name secret-looking.
SECRET_WORDS = frozenset(
    {
        "apikey", "auth", "authorization", "bearer", "code", "cookie", "credential",
        "credentials", "jwt", "key", "passphrase", "passwd", "password", "pat", "pwd",
        "secret", "session", "sig", "signature", "token",
    }
)  # fmt: skip
#: Whole names that are secret-looking although none of their words is in SECRET_WORDS.
SECRET_NAMES = frozenset(
    {"accesstoken", "authtoken", "clientsecret", "refreshtoken", "privatekey", "sessionid"}
)

#: Names that look secret by their words but are not (compared without separators).
PUBLIC_NAMES = frozenset({"idempotencykey", "tokentype", "keyid", "sessiontimeout"})

_SPLIT = re.compile(r"[-_.\s]+")
# key=value pairs inside a query string or free text (value ends at & # whitespace quote)
_PAIR = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_.\-]*)=(?P<value>[^&#\s'\"<>),;]+)")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@\s?#'\"]+)@")
_AUTH_HEADER = re.compile(
    r"(?P<name>(?:proxy-)?authorization)(?P<sep>\s*[:=]\s*)(?P<value>(?:[A-Za-z]+\s+)?\S+)",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a parameter, flag, header or variable name looks like it holds a secret.

    Args:
        name: e.g. ``"api_key"``, ``"--auth-token"``, ``"X-API-Key"``, ``"GITHUB_TOKEN"``.

    Returns:
        True when one of its words is in :data:`SECRET_WORDS` or the whole name (without
        separators) is in :data:`SECRET_NAMES`.
    """
    lowered = name.strip().lstrip("-").lower()
    if not lowered:
        return False
    joined = _SPLIT.sub("", lowered)
    if joined in PUBLIC_NAMES:
        return False
    if joined in SECRET_NAMES:
        return True
    return any(word in SECRET_WORDS for word in _SPLIT.split(lowered) if word)


_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def _mask_pair(match: re.Match[str]) -> str:
    name, value = match.group("name"), match.group("value")
    if not is_secret_name(name) or _PLACEHOLDER.fullmatch(value) or value == MASK:
        return match.group(0)
    return f"{name}={MASK}"


#: Known values shorter than this are hidden only where they make up a whole word: replacing
#: ``"1"`` inside every number would garble the text and hide nothing worth hiding.
_MIN_INNER_CHARS = 4


def _mask_known(text: str, known: Mapping[str, str] | None) -> str:
    if not known:
        return text
    # longest values first, so a value containing another is replaced whole
    for name, value in sorted(known.items(), key=lambda kv: -len(kv[1])):
        if value == text:
            return f"${{{name}}}"
        if len(value) >= _MIN_INNER_CHARS:
            text = text.replace(value, f"${{{name}}}")
    return text


def redact_url(url: str, *, known: Mapping[str, str] | None = None) -> str:
    """The URL with its userinfo and secret-looking query values hidden (path kept).

    Args:
        url: any URL (absolute or not).
        known: ``{NAME: value}`` of values to show as ``${NAME}`` (from ``${NAME}`` expansion).

    Returns:
        e.g. ``https://***@api.example.com/v1?page=2&api_key=***``.
    """
    url = _mask_known(url, known)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = _PAIR.sub(_mask_pair, parts.query)
    fragment = _PAIR.sub(_mask_pair, parts.fragment)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def strip_url(url: str) -> str:
    """The URL without userinfo, query or fragment: a target name for logs and errors.

    Returns:
        ``scheme://host[:port]/path``.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def redact_text(text: str, *, known: Mapping[str, str] | None = None) -> str:
    """Free text (an error message, a log line) with secrets hidden.

    Hides URL userinfo, ``name=value`` pairs whose name is secret-looking (query strings,
    ``--token=X``, ``API_KEY=X``), ``Authorization: <scheme> <value>`` and the ``known``
    values.

    Args:
        text: the text.
        known: ``{NAME: value}`` of values to show as ``${NAME}``.

    Returns:
        The text, secrets replaced by ``***`` (or ``${NAME}``).
    """
    text = _mask_known(text, known)
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group('name')}{m.group('sep')}{MASK}", text)
    return _PAIR.sub(_mask_pair, text)


def _flag_name(word: str) -> str | None:
    if word.startswith("-") and len(word) > 1 and not word.startswith("---"):
        return word.split("=", 1)[0]
    return None


def redact_command(
    argv: Sequence[str], *, known: Mapping[str, str] | None = None, limit: int | None = None
) -> str:
    """A command line, shell-quoted, with secrets hidden.

    The word after a secret-looking flag (``--token X``), the value of ``--flag=X`` and
    ``NAME=X`` words with a secret-looking name, URL userinfo and secret query values inside
    a word, and ``known`` values (shown as ``${NAME}``) are hidden.

    Args:
        argv: the program and its arguments.
        known: ``{NAME: value}`` of values expanded from the environment.
        limit: cut the result to this many characters (ending with ``...``); None: no cut.

    Returns:
        The line, e.g. ``server --token '***' --port 8000``.
    """
    words: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            hide_next = False
            if not word.startswith("-") or not word.strip("-"):
                words.append(MASK)
                continue
        flag = _flag_name(word)
        if flag is not None and is_secret_name(flag):
            if "=" in word:
                words.append(f"{flag}={MASK}")
                continue
            hide_next = True
            words.append(word)
            continue
        words.append(redact_text(word, known=known))
    line = shlex.join(words)
    if limit is not None and len(line) > limit:
        line = line[: max(0, limit - 3)] + "..."
    return line


def known_from(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{NAME: value}`` from pairs, dropping empty values (nothing to hide)."""
    return {name: value for name, value in pairs if value}
