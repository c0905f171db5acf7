"""Built front-end assets (web/ → esbuild → static/dist) and their cache-busting URLs."""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
DIST_DIR = STATIC_DIR / "dist"
STATIC_PREFIX = "/static"


log = logging.getLogger("breeze.web")


@lru_cache(maxsize=256)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    """`/static/dist/<name>?v=<content hash>`, or '' when the bundles were not built (the
    layout then says to run `make assets` instead of failing every page)."""
    path = DIST_DIR / name
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        log.warning("%s is missing: build the console assets with `make assets`", path)
        return ""
    return f"{STATIC_PREFIX}/dist/{name}?v={_digest(path, mtime)}"


def assets_built() -> bool:
    return (DIST_DIR / "main.js").is_file() and (DIST_DIR / "main.css").is_file()
