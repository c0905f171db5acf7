"""A real SMTP server (aiosmtpd) that keeps what it receives, for the tests to read."""

from __future__ import annotations

import email
import re
import threading
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    to: list[str]
    subject: str
    body: str


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg: Message = email.message_from_bytes(envelope.content)
        payload = msg.get_payload(decode=True)
        body = payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)
        self.box.add(Received([t.lower() for t in envelope.rcpt_tos], str(msg["Subject"]), body))
        return "250 OK"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=_free_port())

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def add(self, message: Received) -> None:
        with self._lock:
            self.messages.append(message)

    def wait_for(self, to: str, *, subject: str = "", timeout: float = 15.0) -> Received:
        to = to.lower()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for m in reversed(self.messages):
                    if to in m.to and subject.lower() in m.subject.lower():
                        return m
            time.sleep(0.05)
        raise AssertionError(f"no email to {to} with subject containing {subject!r}")

    def token_for(self, to: str, *, subject: str = "", timeout: float = 15.0) -> str:
        """The token in the last link mailed to `to` (…?token=XYZ)."""
        body = self.wait_for(to, subject=subject, timeout=timeout).body
        found = re.findall(r"token=([A-Za-z0-9_\-]+)", body)
        assert found, f"no token link in mail to {to}:\n{body}"
        return found[-1]
