"""``breeze-agent run``: a small supervisor that runs the agent as a child process.

It exists so that the agent can replace itself (``breeze_agent.update`` describes the
update protocol and the files it shares with the agent). The supervisor:

* starts the agent (``python -m breeze_agent.cli run --child``) from the active version's
  directory (``PYTHONPATH=<home>/versions/<v>``; none active: the installed package);
* forwards SIGTERM, SIGINT and SIGUSR1 to it, and exits with the child's exit code (0, 1,
  3 revoked, 4 not enrolled...), so systemd sees what it saw before there was a supervisor;
* on ``EXIT_UPDATE`` starts the staged version and waits for it to confirm a successful
  heartbeat; confirmed: it becomes the active version; the child exited or stayed silent
  for the confirm window: it is killed, marked bad, and the previous version is restarted
  (which reports the update command as failed).

The supervisor itself always runs the installed package and stays small: a broken new
version can never take the supervisor, and with it the rollback, down. When the installed
package changes (reinstalled by the install script), the installed package runs again:
``update.json`` remembers which installed version an activated version was based on.
``BREEZE_AGENT_NO_SUPERVISOR=1`` runs the service in the ``run`` process itself (no
self-update then: an ``update_agent`` command fails saying so).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from breeze_agent import __version__
from breeze_agent.update import (
    ENV_HOME,
    ENV_SUPERVISED,
    EXIT_UPDATE,
    Pending,
    UpdateError,
    agent_home,
    clear_confirmation,
    confirm_seconds,
    load_confirmation,
    load_pending,
    load_state,
    save_pending,
    save_state,
    version_dir,
    versions_dir,
)

log = logging.getLogger("breeze_agent.supervisor")

EXIT_ERROR = 1
STOP_GRACE_SECONDS = 30.0  # a child that ignores SIGTERM this long is killed
POLL_SECONDS = 0.1
FORWARDED = ("SIGTERM", "SIGINT", "SIGUSR1")
STOPPING = ("SIGTERM", "SIGINT")


class Supervisor:
    def __init__(self, config_path: Path, child_args: list[str], home: Path | None = None):
        self.config_path = config_path
        self.child_args = child_args
        self.home = home or agent_home(config_path)
        self.child: subprocess.Popen[bytes] | None = None
        self.stop_signal: int | None = None
        self.stop_at: float | None = None

    # -- signals -----------------------------------------------------------------------

    def _install_signals(self) -> None:
        for name in FORWARDED:
            sig = getattr(signal, name, None)
            if sig is not None:
                signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signal.Signals(signum).name in STOPPING and self.stop_signal is None:
            self.stop_signal = signum
            self.stop_at = time.monotonic()
        child = self.child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    @property
    def stopping(self) -> bool:
        return self.stop_signal is not None

    # -- children ----------------------------------------------------------------------

    def active_version(self) -> str | None:
        """The version to run: the active one if it is still valid, else the installed."""
        state = load_state(self.home)
        version = state.active
        if version is None or version == __version__:
            return None
        if state.base != __version__:
            log.warning(
                "the installed agent is now %s (version %s was activated over %s): running "
                "the installed one",
                __version__,
                version,
                state.base,
            )
            return None
        try:
            path = version_dir(self.home, version)
        except UpdateError:
            return None
        if not path.is_dir():
            log.error("active version %s is missing (%s); running the installed one", version, path)
            return None
        return version

    def start(self, version: str | None) -> subprocess.Popen[bytes]:
        env = {**os.environ, ENV_HOME: str(self.home), ENV_SUPERVISED: str(os.getpid())}
        python = [sys.executable]
        if version is not None:
            path = str(version_dir(self.home, version))
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
            python.append("-P")  # the working directory must not shadow the version
        command = [*python, "-m", "breeze_agent.cli", "run", "--child", *self.child_args]
        self.child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
        if self.stop_signal is not None:  # asked to stop while it was being started
            self.child.send_signal(self.stop_signal)
        log.debug("agent %s started (pid %d)", version or __version__, self.child.pid)
        return self.child

    def _poll(self, child: subprocess.Popen[bytes]) -> int | None:
        """The child's exit code if it ended; kills it when it ignores a stop too long."""
        code = child.poll()
        overdue = self.stop_at is not None and time.monotonic() - self.stop_at > STOP_GRACE_SECONDS
        if code is None and overdue:
            log.error("the agent did not stop within %gs; killing it", STOP_GRACE_SECONDS)
            child.kill()
            code = child.wait()
        return code

    def _wait(self, child: subprocess.Popen[bytes]) -> int:
        while True:
            code = self._poll(child)
            if code is not None:
                return code
            time.sleep(POLL_SECONDS)  # signals interrupt it; their handlers forward at once

    def _kill(self, child: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        if child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def _exit_code(self, code: int) -> int:
        if code < 0:  # killed by a signal
            if self.stop_signal is not None and -code == self.stop_signal:
                return 0  # stopped as asked, before it could install its own handlers
            return 128 - code
        return code

    # -- updates -----------------------------------------------------------------------

    def trial(self, pending: Pending) -> subprocess.Popen[bytes]:
        """Run the staged version until it confirms; roll back when it does not. Returns
        the child now running (new or previous version)."""
        window = confirm_seconds()
        clear_confirmation(self.home)
        pending.state = "trial"
        pending.deadline = time.time() + window
        save_pending(self.home, pending)
        log.info("starting version %s (was %s) on trial", pending.to_version, pending.from_version)
        until = time.monotonic() + window
        try:
            if not version_dir(self.home, pending.to_version).is_dir():
                raise UpdateError(f"{version_dir(self.home, pending.to_version)} is missing")
            child = self.start(pending.to_version)
        except (OSError, UpdateError) as exc:
            reason = f"version {pending.to_version} cannot start: {exc}"
            return self.rollback(pending, None, reason)
        while True:
            if self.stopping:
                return child  # undecided: the next start tries it again
            code = child.poll()
            if code is not None:
                reason = f"version {pending.to_version} exited with code {code}"
                return self.rollback(pending, child, reason)
            confirmation = load_confirmation(self.home)
            if (
                confirmation is not None
                and confirmation.command_id == pending.command_id
                and confirmation.version == pending.to_version
            ):
                self.accept(pending)
                return child
            if time.monotonic() > until:
                reason = f"version {pending.to_version} did not heartbeat within {window:g} s"
                return self.rollback(pending, child, reason)
            time.sleep(POLL_SECONDS)

    def accept(self, pending: Pending) -> None:
        state = load_state(self.home)
        previous = self.active_version() or pending.from_version
        state.previous = previous
        state.active = None if pending.to_version == __version__ else pending.to_version
        state.base = __version__
        state.bad.pop(pending.to_version, None)
        save_state(self.home, state)  # first: a crash before the verdict means a new trial
        clear_confirmation(self.home)
        self.prune(keep={pending.to_version, previous})
        pending.state = "confirmed"  # last: the new agent reports the command once it sees it
        pending.reason = None
        save_pending(self.home, pending)
        log.info("version %s confirmed; it is now the active version", pending.to_version)

    def rollback(
        self, pending: Pending, child: subprocess.Popen[bytes] | None, reason: str
    ) -> subprocess.Popen[bytes]:
        if child is not None:
            self._kill(child)
        log.error("update to %s rolled back: %s", pending.to_version, reason)
        state = load_state(self.home)
        state.bad[pending.to_version] = reason
        save_state(self.home, state)
        clear_confirmation(self.home)
        if pending.to_version != state.active:
            with contextlib.suppress(UpdateError):
                shutil.rmtree(version_dir(self.home, pending.to_version), ignore_errors=True)
        pending.state = "rolled_back"
        pending.reason = reason
        save_pending(self.home, pending)
        return self.start(self.active_version())

    def prune(self, keep: set[str]) -> None:
        root = versions_dir(self.home)
        if not root.is_dir():
            return
        for path in root.iterdir():
            if path.is_dir() and path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)

    # -- main loop ---------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        pending = load_pending(self.home)
        if pending is not None and pending.state in ("staged", "trial"):
            child = self.trial(pending)  # staged, or tried when the service was stopped
        else:
            child = self.start(self.active_version())
        while True:
            code = self._wait(child)
            if self.stopping:  # a staged update waits for the next start
                return 0 if code == EXIT_UPDATE else self._exit_code(code)
            if code != EXIT_UPDATE:
                return self._exit_code(code)
            pending = load_pending(self.home)
            if pending is None or pending.state != "staged":
                log.error("the agent asked for an update but staged none; stopping")
                return EXIT_ERROR
            child = self.trial(pending)


def supervise(config_path: Path, child_args: list[str]) -> int:
    """Run the agent under the supervisor until it stops; its exit code."""
    supervisor = Supervisor(config_path, child_args)
    try:
        return supervisor.run()
    finally:
        child = supervisor.child
        if child is not None and child.poll() is None:
            supervisor._kill(child)
