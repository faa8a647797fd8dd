"""Regenerate docs/cli.md and docs/configuration.md from the code (`--check` only compares).

The command reference comes from the Typer app, the settings reference from the pydantic Settings
class, so that no command, option or setting can go undocumented (tests/test_docs.py runs --check).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer.main

from nemdash.cli import app
from nemdash.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _walk(cmd: Any, prefix: str) -> list[tuple[str, Any]]:
    # Typer ships its own click; walk its command objects by their attributes.
    if getattr(cmd, "commands", None):
        found: list[tuple[str, Any]] = []
        for name in sorted(cmd.commands):
            found.extend(_walk(cmd.commands[name], f"{prefix} {name}"))
        return found
    return [(prefix, cmd)]


def cli_markdown() -> str:
    root = typer.main.get_command(app)
    lines = [
        "# Command reference",
        "",
        "Generated from the code by `python scripts/gen_docs.py`; do not edit by hand.",
        "Every command takes `--data-dir` (env `NEMDASH_DATA_DIR`).",
        "",
    ]
    for path, cmd in _walk(root, "nemdash"):
        lines += [f"## `{path}`", "", (cmd.help or "").strip(), ""]
        args = [p for p in cmd.params if p.param_type_name == "argument"]
        opts = [p for p in cmd.params if p.param_type_name == "option" and not p.hidden]
        if args:
            lines += ["| argument | meaning |", "|---|---|"]
            for a in args:
                lines.append(f"| `{(a.name or '').upper()}` | {getattr(a, 'help', '') or ''} |")
            lines.append("")
        if opts:
            lines += ["| option | meaning | default |", "|---|---|---|"]
            for o in opts:
                names = ", ".join(f"`{n}`" for n in o.opts + o.secondary_opts)
                default = "" if o.default is None or (o.is_flag and not o.default) else o.default
                if isinstance(default, list | tuple):
                    default = ", ".join(map(str, default))
                env = f" (env `{o.envvar}`)" if isinstance(o.envvar, str) else ""
                lines.append(f"| {names} | {(o.help or '').strip()}{env} | {default} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def config_markdown() -> str:
    lines = [
        "# Configuration",
        "",
        "Generated from `src/nemdash/config.py` by `python scripts/gen_docs.py`.",
        "Every setting is read from an environment variable `NEMDASH_<NAME>` (upper case).",
        "",
        "| variable | meaning | default |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = "(per-user data folder)" if name == "data_dir" else field.default
        lines.append(f"| `NEMDASH_{name.upper()}` | {field.description} | `{default}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    outputs = {DOCS / "cli.md": cli_markdown(), DOCS / "configuration.md": config_markdown()}
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    if "--check" in argv:
        for p in stale:
            print(f"{p} is out of date: run python scripts/gen_docs.py", file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        p.write_text(outputs[p])
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
