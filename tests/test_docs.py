"""Every command, option and setting is documented, and the README starts with the two commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Not imported from conftest: tests/browser has a conftest of its own, and the name would clash.
REPO = Path(__file__).resolve().parents[1]


def test_generated_reference_docs_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_readme_opens_with_the_two_setup_commands() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert block[0].startswith("bash scripts/bootstrap && .venv/bin/nemdash serve")
    assert block[1].startswith("bash scripts/test")
