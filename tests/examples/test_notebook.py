"""examples/notebook.ipynb, executed on a real IPython kernel (nbclient + ipykernel).

The kernel runs every cell inside its running asyncio event loop: the point of the test is
that the blocking client works there. The kernel is this interpreter (a kernelspec written
to a temporary JUPYTER_PATH), so only ``pip install -e ".[dev]"`` is needed, never a
``jupyter kernelspec install``; Jupyter's runtime and IPython's profile also go to temporary
directories.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.ipynb"
KERNEL = "syncclients-examples-test"


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec for this interpreter, found first; Jupyter state under tmp_path."""
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "syncclients test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no deprecation warning about paths
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.delenv("MCP_CONFIG", raising=False)
    return KERNEL


def outputs(cell: Any) -> tuple[str, str, str]:
    """(stdout, stderr, rich text: markdown/plain results) of one executed cell."""
    stdout, stderr, rich = [], [], []
    for out in cell.outputs:
        assert out.output_type != "error", "\n".join(out.get("traceback", []))
        if out.output_type == "stream":
            (stdout if out.name == "stdout" else stderr).append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            data = out.data
            rich.append(data.get("text/markdown") or data.get("text/plain", ""))
    return "".join(stdout), "".join(stderr), "".join(rich)


def test_notebook_runs_on_a_real_kernel(kernel_env: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code"), (
        "store the notebook without outputs"
    )
    client = NotebookClient(
        nb,
        kernel_name=kernel_env,
        timeout=60,  # seconds per cell
        startup_timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on any failing cell
    cells = {c.id: c for c in nb.cells}

    loop_out, loop_err, _ = outputs(cells["event-loop"])
    assert "kernel event loop running: True" in loop_out
    assert "asyncio.run() cannot be called from a running event loop" in loop_out
    assert loop_err == ""

    connect_out, connect_err, _ = outputs(cells["connect"])
    assert connect_err == ""
    assert re.search(r"connected to syncclients-demo \S+ \(MCP \S+, pid \d+\)", connect_out)

    _, _, tools_table = outputs(cells["tools"])
    assert tools_table.startswith("| tool | description | safe to retry |")
    for name in ("add", "echo", "slow", "lookup", "divide", "flaky"):
        assert f"| {name} |" in tools_table

    _, _, call_result = outputs(cells["call"])
    assert "'item': 'cheese'" in call_result and "'price': 7.9" in call_result

    _, batch_err, _ = outputs(cells["batch"])
    assert "17/17" in batch_err  # the tqdm bar, on stderr, reached the end

    results_out, _, results_table = outputs(cells["results"])
    rows = [line for line in results_table.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == 17
    assert "| lookup | {'item': 'eggs'} | ok | {'item': 'eggs'" in results_table
    assert "| divide | {'a': 1, 'b': 0} | tool_error | Error executing tool divide" in (
        results_table
    )
    assert "17 calls: 16 ok, 1 failed" in results_out

    llm_out, llm_err, _ = outputs(cells["llm-failover"])
    assert "answered by openai: Hello from the fake model." in llm_out
    assert "attempts: 1 + 1" in llm_out and llm_err == ""

    assert outputs(cells["close"])[0] == "closed\n"
