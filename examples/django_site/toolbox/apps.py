"""The app's configuration: builds the MCP clients once, when Django starts."""

from __future__ import annotations

from django.apps import AppConfig


class ToolboxConfig(AppConfig):
    name = "toolbox"

    def ready(self) -> None:
        # Django may call ready() more than once (the test runner, a second setup());
        # clients.start() builds the clients only the first time. Nothing connects yet:
        # each server is started on its first call, in the process that makes it, so
        # the runserver autoreloader's parent process and `manage.py check` start nothing.
        from . import clients

        clients.start()
