"""Built front-end assets (web/ → esbuild → static/dist) and their cache-busting URLs."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
DIST_DIR = STATIC_DIR / "dist"
STATIC_PREFIX = "/static"


class AssetsMissing(RuntimeError):
    """The bundles were not built: run `make assets` (npm + esbuild)."""


@lru_cache(maxsize=256)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    """`/static/dist/<name>?v=<content hash>`; raises AssetsMissing if not built."""
    path = DIST_DIR / name
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise AssetsMissing(
            f"{path} is missing: build the console assets with `make assets`"
        ) from exc
    return f"{STATIC_PREFIX}/dist/{name}?v={_digest(path, mtime)}"


def assets_built() -> bool:
    return (DIST_DIR / "main.js").is_file() and (DIST_DIR / "main.css").is_file()
