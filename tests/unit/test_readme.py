"""The README's test command is exactly what CI runs, and its main-job command exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set-up commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_exactly_two_setup_commands() -> None:
    assert len(_readme_commands()) == 2


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci
    assert "pytest" in test_command


def test_main_job_command_runs_the_demo_console_script() -> None:
    main_job = _readme_commands()[0]
    assert main_job.endswith("syncclients demo")
    assert '".[demo]"' in main_job
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'syncclients = "syncclients.cli:main"' in pyproject
