"""Regenerate docs/configuration.md from the settings models (run after changing them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from breeze.settings import Settings

HEAD = """# Configuration

Every setting is read from a `BREEZE_*` environment variable; nested groups use a double
underscore (`BREEZE_SMTP__HOST`). An optional TOML file (`BREEZE_CONFIG_FILE`, or
`breeze.toml` in the data directory) can hold the same keys (`[smtp]` tables for groups);
environment variables win over the file.

| variable | default | meaning |
|---|---|---|
"""
TAIL = """
In production (`BREEZE_ENV=production`) the server and worker refuse to start
unless `BREEZE_SECRET_KEY` is set to a random value of at least 32 characters.
"""


def rows(model: type[BaseModel], prefix: str) -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        ann: Any = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += rows(ann, f"{prefix}{name.upper()}__")
            continue
        default: Any = field.default
        shown = "unset" if default is None else f"`{default}`"
        out.append(f"| `{prefix}{name.upper()}` | {shown} | {field.description or ''} |")
    return out


def render() -> str:
    return HEAD + "\n".join(rows(Settings, "BREEZE_")) + "\n" + TAIL


if __name__ == "__main__":
    Path("docs/configuration.md").write_text(render())
