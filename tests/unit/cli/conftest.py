"""Fixtures for the ``syncclients`` command tests: the bundled demo server over stdio."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syncclients.cli import main
from syncclients.mcp import clear_era_cache

ROOT = Path(__file__).resolve().parents[3]
#: The demo server as an mcpServers entry (PYTHONPATH: it gets a minimal environment).
DEMO_ENTRY: dict[str, Any] = {
    "command": sys.executable,
    "args": ["-m", "syncclients.demo.server"],
    "env": {"PYTHONPATH": str(ROOT)},
}
#: The demo server as an inline --stdio command.
DEMO_STDIO = f"{sys.executable} -m syncclients.demo.server"


@dataclass
class Run:
    """What one in-process ``syncclients`` run produced."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def _fresh_era_cache() -> Any:
    clear_era_cache()
    yield
    clear_era_cache()


@pytest.fixture
def cli() -> Callable[..., Run]:
    """Run ``syncclients ARGS`` in-process and capture its output."""

    def run(*argv: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err)
        return Run(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def demo_config(tmp_path: Path) -> str:
    """An mcpServers file with one server, ``demo``."""
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"demo": DEMO_ENTRY}}), encoding="utf-8")
    return str(path)


@pytest.fixture
def two_config(tmp_path: Path) -> str:
    """An mcpServers file with two demo servers, ``alpha`` and ``beta`` (same tool names)."""
    path = tmp_path / "two.json"
    path.write_text(
        json.dumps({"mcpServers": {"alpha": DEMO_ENTRY, "beta": DEMO_ENTRY}}), encoding="utf-8"
    )
    return str(path)
