"""Run a script payload: a fresh temporary directory, the language's interpreter, a clean
environment, a new session, bounded output, and a process tree that never outlives a
timeout or a cancel.

The script is written to ``<tmp>/script.<ext>`` and run as ``<interpreter> <file>`` with the
temporary directory as its working directory and ``TMPDIR``; the directory is removed
afterwards. Environment: ``PATH``, ``LANG``, ``HOME``/``USER``/``LOGNAME`` of the user it
runs as and ``TMPDIR``, plus the payload's ``env`` (its parameters). Nothing else of the
agent's environment (tokens, proxies, ``BREEZE_*``) leaks into a script.

Stopping (timeout, cancel, the agent stopping): SIGTERM to the process group and to every
descendant found, SIGKILL to whatever is left after ``KILL_GRACE_SECONDS``. Descendants are
tracked by walking the tree while it runs, so one that started its own session is found too.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_protocol.commands import (
    EXIT_REBOOT_REQUIRED_POSIX,
    EXIT_REBOOT_REQUIRED_WINDOWS,
    TRUNCATION_MARKER,
    CommandResult,
    ScriptPayload,
    Stream,
)

KILL_GRACE_SECONDS = 3.0
FLUSH_SECONDS = 0.25  # output is batched and streamed this often
DRAIN_SECONDS = 2.0  # after the script exits, how long a background child may hold its pipes
READ_SIZE = 65_536
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The exit code by which a script says "done, but reboot to finish" on this platform.
REBOOT_REQUIRED_EXIT = (
    EXIT_REBOOT_REQUIRED_WINDOWS if sys.platform == "win32" else EXIT_REBOOT_REQUIRED_POSIX
)
EXTENSIONS = {"bash": ".sh", "sh": ".sh", "python": ".py", "powershell": ".ps1", "cmd": ".cmd"}

# Called with (stream, text) pieces of output as they arrive, in order; only the kept head.
OutputSink = Callable[[Stream, str], None]
StopReason = Literal["timeout", "cancelled", "stopping"]


class ScriptError(Exception):
    """The script cannot be started; the message is the result's ``error``."""


def _text(data: str) -> str:
    """Output as the server can store it: NUL (binary output, /proc cmdlines) cannot live
    in PostgreSQL text, and the server refuses it, so it becomes U+FFFD like invalid UTF-8."""
    return data.replace("\x00", "\ufffd")


@dataclass
class _Capture:
    """The head of one stream, up to ``limit`` bytes; the rest is only counted."""

    stream: Stream
    limit: int
    sink: OutputSink | None
    kept: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def __post_init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        room = self.limit - len(self.kept)
        head, rest = data[: max(room, 0)], data[max(room, 0) :]
        if head:
            self.kept += head
            text = _text(self._decoder.decode(head))
            if text and self.sink:
                self.sink(self.stream, text)
        if rest:
            if not self.dropped and self.sink:
                tail = _text(self._decoder.decode(b"", final=True))
                if tail:
                    self.sink(self.stream, tail)
            self.dropped += len(rest)

    def finish(self) -> tuple[str, bool]:
        if self.sink and not self.dropped:
            tail = _text(self._decoder.decode(b"", final=True))
            if tail:
                self.sink(self.stream, tail)
        text = _text(self.kept.decode("utf-8", errors="replace"))
        if self.dropped:
            marker = TRUNCATION_MARKER.format(dropped=self.dropped)
            if self.sink:
                self.sink(self.stream, marker)
            text += marker
        return text, bool(self.dropped)


@dataclass(frozen=True)
class RunAs:
    """Who the script runs as: ``uid is None`` means the agent's own user."""

    uid: int | None
    gid: int | None
    groups: tuple[int, ...]
    name: str
    home: str


def agent_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        import getpass

        return getpass.getuser()


def resolve_run_as(name: str | None) -> RunAs:
    """The identity for ``run_as``; raises ScriptError when it is not possible here."""
    me = agent_user()
    home = os.path.expanduser("~")
    if not name or name == me:
        return RunAs(None, None, (), me, home)
    if sys.platform == "win32" or not hasattr(os, "geteuid"):
        raise ScriptError(f"running as another user ({name}) is not supported on this platform")
    if os.geteuid() != 0:
        raise ScriptError(f"the agent runs as {me} and cannot run as {name}")
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ScriptError(f"no local user named {name!r} on this machine") from None
    groups = tuple(g for g in os.getgrouplist(name, entry.pw_gid) if g != entry.pw_gid)
    return RunAs(entry.pw_uid, entry.pw_gid, groups, name, entry.pw_dir or "/")


def interpreter(language: str, path: str, *, search_path: str) -> list[str]:
    """The command line that runs the script file ``path``; ScriptError when unavailable."""

    def find(*names: str) -> str | None:
        for name in names:
            found = shutil.which(name, path=search_path)
            if found:
                return found
        return None

    if language in ("bash", "sh"):
        exe = find(language)
        if exe is None:
            raise ScriptError(f"{language} is not installed")
        return [exe, path]
    if language == "python":
        return [find("python3") or sys.executable, path]
    if language == "powershell":
        exe = find("pwsh")
        if exe is None:
            raise ScriptError("PowerShell (pwsh) is not installed")
        return [exe, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", path]
    if language == "cmd":
        if sys.platform != "win32":
            raise ScriptError("cmd scripts run only on Windows; this device runs " + sys.platform)
        return [os.environ.get("COMSPEC", "cmd.exe"), "/d", "/c", path]
    raise ScriptError(f"unknown script language {language!r}")


def script_env(payload: ScriptPayload, user: RunAs, tmp: str) -> dict[str, str]:
    base_path = os.environ.get("PATH") or DEFAULT_PATH
    env = {
        "PATH": base_path,
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "HOME": user.home,
        "USER": user.name,
        "LOGNAME": user.name,
        "TMPDIR": tmp,
    }
    if sys.platform == "win32":  # Windows cannot start most programs without these
        for name in ("SYSTEMROOT", "COMSPEC", "PATHEXT", "WINDIR"):
            if name in os.environ:
                env[name] = os.environ[name]
    for key, value in payload.env.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ScriptError(f"invalid environment parameter name or value: {key!r}")
        env[key] = value
    return env


def _tree(pid: int) -> list[psutil.Process]:
    try:
        children: list[psutil.Process] = psutil.Process(pid).children(recursive=True)
        return children
    except psutil.Error:
        return []


class _Tree:
    """Every process the script started, remembered while it runs (a daemonising child
    leaves the tree when its parent exits, but is still ours to stop)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.known: dict[int, psutil.Process] = {}
        with contextlib.suppress(psutil.Error):
            self.known[pid] = psutil.Process(pid)

    def refresh(self) -> None:
        for proc in _tree(self.pid):
            self.known.setdefault(proc.pid, proc)
        for known in list(self.known.values()):
            for proc in _tree(known.pid):
                self.known.setdefault(proc.pid, proc)

    def _signal(self, sig: int) -> None:
        if hasattr(os, "killpg"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
        for proc in list(self.known.values()):
            with contextlib.suppress(psutil.Error):
                if proc.is_running():  # is_running() also guards against pid reuse
                    proc.send_signal(sig)

    def alive(self) -> list[psutil.Process]:
        out = []
        for proc in self.known.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    out.append(proc)
        return out

    async def kill(self, grace: float = KILL_GRACE_SECONDS) -> None:
        self.refresh()
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self.refresh()
            if not self.alive():
                break
            await asyncio.sleep(0.1)
        self.refresh()
        sigkill = getattr(signal, "SIGKILL", signal.SIGTERM)
        self._signal(sigkill)


async def _pump(reader: asyncio.StreamReader | None, capture: _Capture) -> None:
    if reader is None:
        return
    while True:
        data = await reader.read(READ_SIZE)
        if not data:
            return
        capture.feed(data)


async def run_script(
    payload: ScriptPayload,
    *,
    on_output: OutputSink | None = None,
    stop: asyncio.Event | None = None,
    stop_reason: Callable[[], StopReason] | None = None,
) -> CommandResult:
    """Run ``payload`` to its end; the result is never an exception.

    ``stop`` set while running kills the tree; ``stop_reason()`` then says why (default
    "cancelled"). Cancelling the task kills the tree too, then re-raises.
    """
    started = time.monotonic()

    def failed(error: str) -> CommandResult:
        return CommandResult(
            status="failed", error=error[:2000], duration_ms=_ms(time.monotonic() - started)
        )

    try:
        user = resolve_run_as(payload.run_as)
    except ScriptError as exc:
        return failed(str(exc))
    tmp = tempfile.mkdtemp(prefix="breeze-cmd-")
    try:
        return await _run_in(tmp, payload, user, on_output, stop, stop_reason, started)
    except ScriptError as exc:
        return failed(str(exc))
    except OSError as exc:
        return failed(f"cannot start the script: {exc.strerror or exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _run_in(
    tmp: str,
    payload: ScriptPayload,
    user: RunAs,
    on_output: OutputSink | None,
    stop: asyncio.Event | None,
    stop_reason: Callable[[], StopReason] | None,
    started: float,
) -> CommandResult:
    script = Path(tmp) / ("script" + EXTENSIONS.get(payload.language, ""))
    content = payload.content
    if payload.language == "cmd" and not content.endswith("\n"):
        content += "\r\n"
    script.write_text(content, encoding="utf-8", newline="")
    if user.uid is not None and user.gid is not None:
        os.chown(tmp, user.uid, user.gid)
        os.chown(script, user.uid, user.gid)
    env = script_env(payload, user, tmp)
    argv = interpreter(payload.language, str(script), search_path=env["PATH"])
    extra: dict[str, object] = {}
    if user.uid is not None:
        extra = {"user": user.uid, "group": user.gid, "extra_groups": list(user.groups)}
    if sys.platform == "win32":
        extra["creationflags"] = 0x00000200  # CREATE_NEW_PROCESS_GROUP
    else:
        extra["start_new_session"] = True
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=tmp,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        **extra,  # type: ignore[arg-type]
    )
    tree = _Tree(proc.pid)
    out = _Capture("stdout", payload.max_output_bytes, on_output)
    err = _Capture("stderr", payload.max_output_bytes, on_output)
    pumps = asyncio.gather(_pump(proc.stdout, out), _pump(proc.stderr, err))
    waiter = asyncio.ensure_future(proc.wait())
    stopper = asyncio.ensure_future(stop.wait()) if stop else None
    deadline = started + payload.timeout_seconds
    outcome: StopReason | None = None
    try:
        while not waiter.done():
            wait_for = [waiter, *([stopper] if stopper else [])]
            # Wake every half second to learn the tree (to find daemonising children).
            timeout = min(0.5, max(0.0, deadline - time.monotonic()))
            await asyncio.wait(wait_for, timeout=timeout, return_when="FIRST_COMPLETED")
            tree.refresh()
            if waiter.done():
                break
            if stopper is not None and stopper.done():
                outcome = stop_reason() if stop_reason else "cancelled"
                break
            if time.monotonic() >= deadline:
                outcome = "timeout"
                break
        if outcome is not None:
            await tree.kill()
            await waiter
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(pumps), KILL_GRACE_SECONDS)
        else:
            # A background child may still hold the pipes: then keep what we have.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pumps), DRAIN_SECONDS)
    except asyncio.CancelledError:
        await asyncio.shield(tree.kill())
        raise
    finally:
        if stopper is not None:
            stopper.cancel()
        if not pumps.done():
            pumps.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pumps
        for pipe in (proc.stdout, proc.stderr):
            transport = getattr(pipe, "_transport", None)
            if transport is not None:
                transport.close()
    stdout, out_cut = out.finish()
    stderr, err_cut = err.finish()
    code = proc.returncode
    duration = _ms(time.monotonic() - started)
    common = {
        "exit_code": code,
        "stdout": stdout,
        "stderr": stderr,
        "stdout_truncated": out_cut,
        "stderr_truncated": err_cut,
        "duration_ms": duration,
    }
    if outcome == "timeout":
        return CommandResult(
            status="timeout", error=f"timed out after {payload.timeout_seconds}s", **common
        )
    if outcome is not None:
        why = "cancelled" if outcome == "cancelled" else "stopped: the agent is shutting down"
        status: Literal["cancelled", "failed"] = "cancelled" if outcome == "cancelled" else "failed"
        return CommandResult(status=status, error=why, **common)
    if code == 0:
        return CommandResult(status="completed", **common)
    if code == REBOOT_REQUIRED_EXIT:
        return CommandResult(status="completed", pending_reboot=True, **common)
    error = f"exited with code {code}" if code is not None and code >= 0 else None
    if code is not None and code < 0:
        error = f"killed by signal {-code}"
    return CommandResult(status="failed", error=error, **common)


def _ms(seconds: float) -> int:
    return max(0, int(seconds * 1000))
