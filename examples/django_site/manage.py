#!/usr/bin/env python
"""Django's command-line utility for this example site.

    python manage.py runserver 127.0.0.1:8000
    python manage.py check

The MCP servers come from ``MCP_SERVERS`` in ``demosite/settings.py`` (the standard
``mcpServers`` format); set ``MCP_CONFIG=/path/to/mcp.json`` to use a file instead.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demosite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
