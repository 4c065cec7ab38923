"""examples/django_site: Django's test client, and a live server with concurrent requests.

Django's settings are process-global: this module's fixture sets DJANGO_SETTINGS_MODULE and
the import path only while its tests run (restoring both after) and closes the site's MCP
clients at the end. No other test module uses Django.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from django.test import LiveServerTestCase

from syncclients import BreakerPolicy

SITE = Path(__file__).resolve().parents[2] / "examples" / "django_site"


@pytest.fixture(scope="module", autouse=True)
def django_site() -> Iterator[ModuleType]:
    """Set Django up on the example site for this module only."""
    saved = {k: os.environ.get(k) for k in ("DJANGO_SETTINGS_MODULE", "MCP_CONFIG")}
    sys.path.insert(0, str(SITE))
    os.environ["DJANGO_SETTINGS_MODULE"] = "demosite.settings"
    os.environ.pop("MCP_CONFIG", None)  # the site's own MCP_SERVERS: the demo server
    clients: ModuleType | None = None
    try:
        import django

        django.setup()  # runs ToolboxConfig.ready(): builds the clients (starts nothing)
        from toolbox import clients

        yield clients
    finally:
        if clients is not None:
            clients.close()
        sys.path.remove(str(SITE))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def rebuilt_clients(clients: ModuleType, **options: Any) -> Iterator[None]:
    """Rebuild the site's clients with other MCP_CLIENT_OPTIONS; restore them after."""
    from django.conf import settings
    from django.test import override_settings

    clients.close()
    try:
        with override_settings(MCP_CLIENT_OPTIONS={**settings.MCP_CLIENT_OPTIONS, **options}):
            clients.start()
            yield
    finally:
        clients.close()
        clients.start()


def post_json(client: Any, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_ready_builds_the_clients_once(django_site: ModuleType) -> None:
    from django.apps import apps

    with rebuilt_clients(django_site):
        group = django_site.group()
        assert group.servers == ["demo"]
        apps.get_app_config("toolbox").ready()  # a second ready(): no second set of clients
        django_site.start()
        assert django_site.group() is group
        assert group.client("demo").pid is None  # nothing was started before the first call


def test_views_with_the_test_client(django_site: ModuleType) -> None:
    from django.test import Client

    client = Client()
    tools = client.get("/tools/").json()["tools"]
    assert {"name": "demo__add", "server": "demo", "tool": "add"} in tools

    response = post_json(client, "/call/demo/add/", {"a": 2, "b": 3})
    assert response.status_code == 200
    assert response.json() == {
        "result": {"result": 5},
        "server_pid": django_site.group().client("demo").pid,
    }
    response = post_json(client, "/call/demo/divide/", {"a": 1, "b": 0})
    assert response.status_code == 422
    assert "cannot divide by zero" in response.json()["detail"]
    assert post_json(client, "/call/nowhere/add/", {}).status_code == 404
    assert post_json(client, "/call/demo/add/", [1, 2]).status_code == 400
    assert (
        client.post("/call/demo/add/", data="{", content_type="application/json").status_code == 400
    )
    assert client.get("/call/demo/add/").status_code == 405

    health = client.get("/health/")
    assert health.status_code == 200
    assert health.json() == {
        "servers": [{"server": "demo", "ok": True, "error": None, "breaker": "closed"}]
    }


def test_dead_server_is_503_then_open_breaker_is_503(django_site: ModuleType) -> None:
    from django.test import Client

    client = Client()
    policy = BreakerPolicy(failure_threshold=2, recovery_timeout_s=60.0)
    # restart_on_exit=False: a killed server stays dead, so the answers are deterministic.
    with rebuilt_clients(django_site, restart_on_exit=False, breaker=policy):
        ok = post_json(client, "/call/demo/add/", {"a": 1, "b": 1})
        assert ok.status_code == 200
        pid = ok.json()["server_pid"]
        assert pid == django_site.group().client("demo").pid

        os.kill(pid, signal.SIGKILL)

        # Each failed attempt counts on the breaker: it opens within 2 calls.
        unavailable = 0
        for _ in range(3):
            open_ = post_json(client, "/call/demo/add/", {"a": 1, "b": 1})
            assert open_.status_code == 503
            body = open_.json()
            if body["reason"] == "circuit_open":
                break
            unavailable += 1
            assert body["error"] == "service unavailable"
            assert body["reason"] == "unavailable"
            assert body["detail"] in ("ServerExitedError", "ConnectionLostError")
        assert 1 <= unavailable <= 2
        assert (body["reason"], body["service"]) == ("circuit_open", "mcp:demo")
        assert open_["Retry-After"] == str(body["retry_after_s"])
        health = client.get("/health/").json()["servers"][0]
        assert (health["ok"], health["breaker"]) == (False, "open")
    # Restored: a fresh client starts a fresh server.
    again = post_json(client, "/call/demo/add/", {"a": 1, "b": 1})
    assert again.status_code == 200
    assert again.json()["server_pid"] != pid


class LiveSiteTests(LiveServerTestCase):
    """The site under Django's threaded live server on 127.0.0.1, concurrent requests."""

    host = "127.0.0.1"
    databases: set[str] = set()  # noqa: RUF012  (Django's own attribute; the site has no DB)

    def test_concurrent_requests_share_one_server_process(self) -> None:
        url = f"{self.live_server_url}/call/demo/add/"

        def one(i: int) -> tuple[int, Any]:
            response = requests.post(url, json={"a": i, "b": 1}, timeout=30)
            return response.status_code, response.json()

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(one, range(32)))

        assert [status for status, _ in answers] == [200] * 32
        assert [body["result"] for _, body in answers] == [{"result": i + 1} for i in range(32)]
        assert len({body["server_pid"] for _, body in answers}) == 1

    def test_tools_over_http(self) -> None:
        response = requests.get(f"{self.live_server_url}/tools/", timeout=30)
        assert response.status_code == 200
        assert "demo__lookup" in {t["name"] for t in response.json()["tools"]}
