"""The client program the official MCP conformance suite drives (``conformance client
--command "python scripts/conformance_client.py"``). Uses only syncclients' public API.

Contract (modelcontextprotocol/conformance ``src/runner/client.ts``): the server URL is the
last argument, the scenario is in ``MCP_CONFORMANCE_SCENARIO``, and some scenarios put JSON
in ``MCP_CONFORMANCE_CONTEXT`` (pre-registered credentials, keys, the IdP of cross-app
access). Exit 0 when the scenario ran; the suite judges what went over the wire.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import requests

from syncclients import MCPClient
from syncclients.auth import ClientCredentials, IdentityAssertion, OAuth
from syncclients.mcp.types import ElicitRequest, ElicitResult

REDIRECT_URI = "http://localhost:3000/callback"
CIMD_URL = "https://conformance-test.local/client-metadata.json"


def headless_authorize(authorization_url: str) -> str:
    """The suite's authorization server redirects at once (no login page): read the
    ``Location`` of its 302 instead of following it (nothing listens on the redirect URI)."""
    response = requests.get(authorization_url, allow_redirects=False, timeout=10)
    location = response.headers.get("Location")
    if response.status_code not in (301, 302, 303, 307, 308) or not location:
        raise SystemExit(f"authorization endpoint answered {response.status_code}, no redirect")
    return location


def accept_defaults(request: ElicitRequest) -> ElicitResult:
    """Accept a form elicitation with the schema's defaults (SEP-1034)."""
    properties = (request.requested_schema or {}).get("properties", {})
    content = {k: v["default"] for k, v in properties.items() if "default" in v}
    return ElicitResult(action="accept", content=content)


def oauth_for(scenario: str, context: dict[str, Any]) -> OAuth:
    if scenario == "auth/client-credentials-jwt":
        client = ClientCredentials(
            client_id=context["client_id"],
            private_key_pem=context["private_key_pem"],
            signing_algorithm=context.get("signing_algorithm", "ES256"),
            token_endpoint_auth_method="private_key_jwt",  # noqa: S106 - a method name
        )
        return OAuth(grant="client_credentials", client=client)
    if scenario == "auth/client-credentials-basic":
        client = ClientCredentials(
            client_id=context["client_id"],
            client_secret=context["client_secret"],
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
        )
        return OAuth(grant="client_credentials", client=client)
    if scenario == "auth/cross-app-access-complete-flow":
        client = ClientCredentials(
            client_id=context["client_id"], client_secret=context.get("client_secret")
        )
        assertion = IdentityAssertion(
            id_token=context["idp_id_token"],
            idp_token_endpoint=context["idp_token_endpoint"],
            idp_client_id=context["idp_client_id"],
        )
        return OAuth(grant="jwt_bearer", client=client, identity_assertion=assertion)
    client = None
    if context.get("client_id"):
        client = ClientCredentials(
            client_id=context["client_id"], client_secret=context.get("client_secret")
        )
    return OAuth(
        client=client,
        client_metadata_url=CIMD_URL,
        client_name="syncclients-conformance",
        redirect_uri=REDIRECT_URI,
        authorize=headless_authorize,
    )


def main() -> int:
    url = sys.argv[-1]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    options: dict[str, Any] = {"timeouts": 20.0}
    if scenario.startswith("auth/"):
        options["auth"] = oauth_for(scenario, context)
    if scenario == "elicitation-sep1034-client-defaults":
        options["elicitation"] = accept_defaults
    client = MCPClient.http(url, **options)
    with client:
        tools = client.list_tools()
        if scenario == "tools_call":
            client.call_tool("add_numbers", {"a": 5, "b": 3})
        elif scenario == "sse-retry":
            client.call_tool("test_reconnection", {})
        elif scenario == "elicitation-sep1034-client-defaults":
            client.call_tool("test_client_elicitation_defaults", {})
        elif scenario.startswith("auth/") and tools:
            client.call_tool(tools[0].name, {})
    return 0


if __name__ == "__main__":
    sys.exit(main())
