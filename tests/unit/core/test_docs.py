"""docs/configuration.md is generated from the settings and must be current."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_configuration_doc_matches_the_settings() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from gen_config_doc import render
    finally:
        sys.path.pop(0)
    current = (ROOT / "docs" / "configuration.md").read_text()
    assert current == render(), "run: .venv/bin/python scripts/gen_config_doc.py"
