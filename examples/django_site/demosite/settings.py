"""Settings of the example site: one app (``toolbox``) that calls MCP servers.

The MCP servers are named here, in the standard ``mcpServers`` format that MCP hosts
(Claude Desktop, Claude Code's ``.mcp.json``, Cursor, VS Code) use. The ``toolbox`` app
builds one client per server at start-up (``ToolboxConfig.ready``); views share them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent

# Never use this key, or DEBUG, in production.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = ["toolbox.apps.ToolboxConfig"]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    # Failures of the MCP servers become JSON 503/502 answers (see toolbox/middleware.py).
    "toolbox.middleware.SyncClientsErrorMiddleware",
]
ROOT_URLCONF = "demosite.urls"
WSGI_APPLICATION = "demosite.wsgi.application"
DATABASES: dict[str, Any] = {}  # the example keeps no data
STATIC_URL = "static/"
USE_TZ = True
TIME_ZONE = "UTC"

# -- MCP servers -------------------------------------------------------------------------------

if os.environ.get("MCP_CONFIG"):
    # A standard mcpServers file, e.g. the one your MCP host already uses.
    MCP_SERVERS = json.loads(Path(os.environ["MCP_CONFIG"]).read_text(encoding="utf-8"))
else:
    MCP_SERVERS = {
        "mcpServers": {
            # The bundled demo server, started over stdio with this interpreter.
            "demo": {"command": sys.executable, "args": ["-m", "syncclients.demo.server"]},
        }
    }

# Keywords for every MCPClient (see syncclients.MCPClient).
MCP_CLIENT_OPTIONS: dict[str, Any] = {
    "timeouts": (30.0, 30.0),  # seconds: server start + handshake, each answer
    "restart_on_exit": True,  # a crashed server is started again on the next call
}
