"""Small, never-raising readers used by the collectors.

Every reader returns ``(value, reason)``: a value, or ``None`` and a human-readable reason
that ends up in the section's ``unavailable`` mapping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

Result = tuple[str | None, str | None]

# Values firmware vendors leave in DMI fields instead of real data.
DMI_PLACEHOLDERS = frozenset(
    {
        "",
        "none",
        "not specified",
        "not applicable",
        "not available",
        "default string",
        "to be filled by o.e.m.",
        "to be filled by oem",
        "system serial number",
        "system product name",
        "system manufacturer",
        "system version",
        "o.e.m.",
        "oem",
        "0123456789",
        "00000000-0000-0000-0000-000000000000",
        "03000200-0400-0500-0006-000700080009",
    }
)


class Notes:
    """Collects ``field -> reason`` for fields left ``None``; the first reason wins."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    def note(self, field: str, reason: str | None) -> None:
        if reason:
            self.reasons.setdefault(field, reason)

    def take(self, field: str, result: Result) -> str | None:
        """Return the value of ``result``, noting the reason when it is ``None``."""
        value, reason = result
        if value is None:
            self.note(field, reason or "not reported")
        return value


def read_text(path: str | Path) -> Result:
    """Contents of a small text file, stripped; ``None`` with the reason otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None, f"not present: {path}"
    except PermissionError:
        return None, f"permission denied: {path} (readable by root only)"
    except OSError as exc:
        return None, f"unreadable: {path}: {exc.strerror or exc}"
    if not text:
        return None, f"empty: {path}"
    return text, None


def read_dmi(name: str, root: str = "/sys/class/dmi/id") -> Result:
    """A DMI/SMBIOS attribute, placeholders (``To Be Filled By O.E.M.``) treated as absent."""
    if not os.path.isdir(root):
        return None, f"no DMI on this machine ({root} absent)"
    value, reason = read_text(f"{root}/{name}")
    if value is not None and value.strip().lower() in DMI_PLACEHOLDERS:
        return None, f"placeholder value {value!r} in {root}/{name}"
    return value, reason


def run(args: Sequence[str], timeout: float = 30.0, ok_codes: Sequence[int] = (0,)) -> Result:
    """Run a command with the C locale; stdout, or ``None`` with the reason."""
    exe = shutil.which(args[0])
    if exe is None:
        return None, f"{args[0]} not installed"
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        proc = subprocess.run(
            [exe, *args[1:]],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"{' '.join(args)} timed out after {timeout:g}s"
    except OSError as exc:
        return None, f"{' '.join(args)} could not run: {exc.strerror or exc}"
    if proc.returncode not in ok_codes:
        first = (proc.stderr.strip().splitlines() or [""])[0]
        return None, f"{' '.join(args)} exited {proc.returncode}: {first}".rstrip(": ")
    return proc.stdout, None


def parse_key_values(text: str, sep: str = "=") -> dict[str, str]:
    """``KEY=value`` lines (os-release style); quotes removed, comments skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or sep not in line:
            continue
        key, _, value = line.partition(sep)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value
    return out
