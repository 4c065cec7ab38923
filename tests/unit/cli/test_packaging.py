"""Packaging metadata: the license is declared as PEP 639 wants it, and the README says what
its test command needs beyond Python."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_license_is_an_spdx_string_with_a_license_file() -> None:
    text = _pyproject()
    # PEP 639: `license` is an SPDX expression, the file is listed in `license-files`; the
    # table form (`license = { text = ... }`) is deprecated by setuptools (gone 2027-02-18).
    assert re.search(r'^license = "MIT"$', text, re.MULTILINE)
    assert re.search(r'^license-files = \["LICENSE"\]$', text, re.MULTILINE)
    assert "License ::" not in text  # PEP 639: no license classifier beside an expression
    floor = re.search(r'"setuptools>=(\d+)', text)
    assert floor is not None
    assert int(floor.group(1)) >= 77  # the first setuptools with PEP 639 support
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License\n")
    assert "Copyright (c) 2026 syncclients developers" in license_text


def test_readme_says_the_tests_need_node_and_npm() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up commands", 1)[1].split("\n## ", 1)[0]
    before_test_command = setup.split(".[dev]", 1)[0].rsplit("```sh", 1)[0]
    assert "Node.js and npm" in before_test_command
