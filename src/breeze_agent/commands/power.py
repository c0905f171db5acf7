"""Reboot and shutdown: the platform's command, and the boot id that proves a reboot.

Before the power action the agent records the command id and the current boot id in its
journal; when it starts again on a different boot id, it reports the command ``completed``
with ``rebooted=True``.

Test seams (environment of the agent process):

* ``BREEZE_AGENT_REBOOT_COMMAND`` / ``BREEZE_AGENT_SHUTDOWN_COMMAND``: a command line
  (split like a shell would, not run by one) used instead of the platform's; it gets
  ``BREEZE_POWER_DELAY_SECONDS`` and ``BREEZE_POWER_MESSAGE`` in its environment.
* ``BREEZE_AGENT_BOOT_ID_FILE``: a file read instead of ``/proc/sys/kernel/random/boot_id``.
"""

from __future__ import annotations

import asyncio
import math
import os
import shlex
import shutil
import sys
from typing import Literal

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_protocol.commands import PowerPayload

ENV_REBOOT_COMMAND = "BREEZE_AGENT_REBOOT_COMMAND"
ENV_SHUTDOWN_COMMAND = "BREEZE_AGENT_SHUTDOWN_COMMAND"
ENV_BOOT_ID_FILE = "BREEZE_AGENT_BOOT_ID_FILE"
LINUX_BOOT_ID = "/proc/sys/kernel/random/boot_id"
POWER_COMMAND_TIMEOUT = 60.0
# After this long past the requested time on the same boot, the reboot did not happen.
REBOOT_OVERDUE_SECONDS = 600

PowerKind = Literal["reboot", "shutdown"]


class PowerError(Exception):
    """The power action could not be started; the message says why."""


def boot_id() -> str:
    """An id that changes on every boot of this machine."""
    source = os.environ.get(ENV_BOOT_ID_FILE) or (
        LINUX_BOOT_ID if sys.platform.startswith("linux") else ""
    )
    if source:
        try:
            with open(source, encoding="ascii", errors="replace") as fh:
                value = fh.read().strip()
        except OSError:
            value = ""
        if value:
            return value
    return f"boot-time-{int(psutil.boot_time())}"


def platform_command(kind: PowerKind, payload: PowerPayload) -> list[str]:
    """The operating system's command for ``kind`` after ``payload.delay_seconds``."""
    delay = payload.delay_seconds
    if sys.platform == "win32":
        flag = "/r" if kind == "reboot" else "/s"
        argv = ["shutdown", flag, "/t", str(delay)]
        return argv + (["/c", payload.message] if payload.message else [])
    flag = "-r" if kind == "reboot" else "-h"
    if delay == 0 and sys.platform.startswith("linux") and shutil.which("systemctl"):
        return ["systemctl", "reboot" if kind == "reboot" else "poweroff"]
    when = "now" if delay == 0 else f"+{max(1, math.ceil(delay / 60))}"  # minutes
    return ["shutdown", flag, when, *([payload.message] if payload.message else [])]


def power_command(kind: PowerKind, payload: PowerPayload) -> list[str]:
    override = os.environ.get(ENV_REBOOT_COMMAND if kind == "reboot" else ENV_SHUTDOWN_COMMAND)
    if override:
        return shlex.split(override)
    return platform_command(kind, payload)


async def start_power_action(kind: PowerKind, payload: PowerPayload) -> None:
    """Run the power command; PowerError when it cannot start or fails."""
    argv = power_command(kind, payload)
    env = {
        **os.environ,
        "BREEZE_POWER_DELAY_SECONDS": str(payload.delay_seconds),
        "BREEZE_POWER_MESSAGE": payload.message,
    }
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
    except OSError as exc:
        raise PowerError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), POWER_COMMAND_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise PowerError(
            f"{' '.join(argv)} did not finish within {POWER_COMMAND_TIMEOUT:g}s"
        ) from None
    if proc.returncode != 0:
        text = output.decode("utf-8", errors="replace").strip()[:500]
        raise PowerError(f"{' '.join(argv)} exited with code {proc.returncode}: {text}".strip())
