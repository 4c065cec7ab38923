"""JWT client assertions (RFC 7523 §2.2, ``private_key_jwt``), the one module that imports
the optional ``oauth`` extra (PyJWT with its ``crypto`` extra, i.e. ``cryptography``).

PyJWT was chosen over joserfc and Authlib: it signs with every algorithm the token
endpoints use (RS*, PS*, ES*, EdDSA) from a PEM key, ships type hints, is already in the
dependency tree of the official MCP SDK, and we need nothing else from a JOSE/OAuth library
(PKCE, state and the token requests are a few lines on ``requests``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ..errors import UsageError

__all__ = ["client_assertion"]

#: How long a client assertion is valid, in seconds.
ASSERTION_LIFETIME_S = 300


def _jwt() -> Any:
    try:
        import jwt  # PyJWT
    except ImportError:  # pragma: no cover - exercised without the extra
        raise UsageError("private_key_jwt needs PyJWT: pip install 'syncclients[oauth]'") from None
    return jwt


def client_assertion(*, client_id: str, audience: str, private_key_pem: str, algorithm: str) -> str:
    """A signed client assertion JWT: ``iss`` = ``sub`` = client id, ``aud`` = the
    authorization server's issuer, ``iat``, ``exp`` (+300 s) and a random ``jti``.

    Args:
        client_id: the OAuth client id.
        audience: the ``aud`` claim (the authorization server's issuer identifier).
        private_key_pem: the PEM private key (never logged).
        algorithm: the JWS algorithm, e.g. ``"ES256"`` or ``"RS256"``.

    Returns:
        The compact JWS.

    Raises:
        UsageError: PyJWT is missing, or the key does not fit the algorithm.
    """
    jwt = _jwt()
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_S,
        "jti": uuid.uuid4().hex,
    }
    try:
        token = jwt.encode(claims, private_key_pem, algorithm=algorithm)
    except Exception as exc:  # PyJWT raises several types for bad keys/algorithms
        raise UsageError(
            f"cannot sign a client assertion with {algorithm}: {type(exc).__name__}"
        ) from None
    return str(token)
