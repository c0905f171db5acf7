"""A version string as a key that sorts like the version, in Python and in SQL.

Each run of digits becomes its length (two digits) followed by the digits without leading
zeros, so ``9`` (``019``) sorts before ``10`` (``0210``) and ``1.01`` equals ``1.1``;
every other character is kept, lower-cased. Comparing two keys as plain strings (code
points in Python, bytes under the "C" collation on PostgreSQL, BINARY on SQLite) orders the
versions: ``1.9 < 1.10 < 1.10.1 < 2``. A key is stored on each DeviceSoftware row so rules
can compare versions inside the database on every dialect.
"""

from __future__ import annotations

import re

MAX_KEY = 400  # DeviceSoftware.version_key length
_RUN = re.compile(r"[0-9]+")


def _number(match: re.Match[str]) -> str:
    digits = match.group().lstrip("0") or "0"
    if len(digits) > 99:  # cannot be ordered by a two-digit length; keep the order of 99s
        digits = digits[:99]
    return f"{len(digits):02d}{digits}"


def version_key(version: str | None) -> str | None:
    """The sortable key of ``version`` (None for None; "" for a blank version, which no
    version comparison matches)."""
    if version is None:
        return None
    text = version.strip()
    # Only ASCII letters fold: the key must be the same whatever the database's locale.
    folded = text.translate(_ASCII_LOWER)
    return _RUN.sub(_number, folded)[:MAX_KEY]


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
