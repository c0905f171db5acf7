"""Delivering the email outbox with retries; safe with several workers."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import or_, select, update

from breeze.core.state import AppState
from breeze.core.worker import PeriodicTask
from breeze.db.base import utcnow
from breeze.mail.actions import MAIL_SIGNAL
from breeze.mail.models import OutboxEmail
from breeze.settings import SmtpSettings

log = logging.getLogger("breeze.mail")
MAX_ATTEMPTS = 8
STALE_CLAIM = timedelta(minutes=5)
BATCH = 50
# Bodies carry single-use links; once delivered they are no longer kept.
DELIVERED_BODY = "[delivered; body removed]"


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 15 * 2 ** max(0, attempts - 1)))


async def send(smtp: SmtpSettings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    await aiosmtplib.send(
        message,
        hostname=smtp.host,
        port=smtp.port,
        username=smtp.username,
        password=smtp.password.get_secret_value() if smtp.password else None,
        start_tls=smtp.starttls,
        use_tls=smtp.use_tls,
        timeout=smtp.timeout_seconds,
    )


async def _claim(state: AppState, email_id: object) -> bool:
    """Take one row for delivery; False when another worker has it."""
    now = utcnow()
    async with state.db.write() as uow:
        result = await uow.session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == email_id,
                or_(
                    OutboxEmail.status == "pending",
                    (OutboxEmail.status == "sending") & (OutboxEmail.next_attempt_at < now),
                ),
            )
            .values(
                status="sending",
                attempts=OutboxEmail.attempts + 1,
                next_attempt_at=now + STALE_CLAIM,
            )
        )
        return bool(getattr(result, "rowcount", 0))


async def _finish(state: AppState, email_id: object, error: str | None) -> None:
    async with state.db.write() as uow:
        email = await uow.session.get(OutboxEmail, email_id)
        if email is None:
            return
        if error is None:
            email.status, email.sent_at, email.body, email.last_error = (
                "sent",
                utcnow(),
                DELIVERED_BODY,
                None,
            )
        elif email.attempts >= MAX_ATTEMPTS:
            email.status, email.last_error = "failed", error
        else:
            email.status, email.last_error = "pending", error
            email.next_attempt_at = utcnow() + _backoff(email.attempts)


async def deliver_due(state: AppState) -> int:
    """Send what is due; returns how many were sent."""
    smtp = state.settings.smtp
    if not smtp.host:
        return 0
    now = utcnow()
    async with state.db.read() as session:
        due = list(
            (
                await session.execute(
                    select(
                        OutboxEmail.id,
                        OutboxEmail.to_address,
                        OutboxEmail.subject,
                        OutboxEmail.body,
                    )
                    .where(
                        or_(OutboxEmail.status == "pending", OutboxEmail.status == "sending"),
                        OutboxEmail.next_attempt_at <= now,
                    )
                    .order_by(OutboxEmail.created_at)
                    .limit(BATCH)
                )
            ).all()
        )
    sent = 0
    for email_id, to, subject, body in due:
        if not await _claim(state, email_id):
            continue
        try:
            await send(smtp, to, subject, body)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("email to %s failed: %s", to, exc)
            await _finish(state, email_id, f"{type(exc).__name__}: {exc}"[:1000])
        else:
            await _finish(state, email_id, None)
            sent += 1
    return sent


async def _deliver_task(state: AppState) -> None:
    await deliver_due(state)


TASKS = [PeriodicTask("mail.deliver", _deliver_task, interval_seconds=5.0, wake_on=MAIL_SIGNAL)]
