"""Queueing email: a row in the caller's transaction, delivery after commit."""

from __future__ import annotations

import uuid

from breeze.core import signals
from breeze.db.engine import UnitOfWork
from breeze.mail.models import OutboxEmail

MAIL_SIGNAL = "mail"


async def queue_email(uow: UnitOfWork, *, to: str, subject: str, body: str) -> OutboxEmail:
    email = OutboxEmail(id=uuid.uuid4(), to_address=to, subject=subject, body=body)
    uow.session.add(email)
    await uow.session.flush()

    async def _nudge() -> None:
        signals.wake(MAIL_SIGNAL)

    uow.on_commit(_nudge)
    return email
