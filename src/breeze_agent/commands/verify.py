"""Checks an envelope must pass before anything runs.

In order: the agent has the server's command key; the Ed25519 signature covers every
field unchanged; the envelope is for this agent; it has not expired; its nonce was never
seen before. Each check's refusal is a short sentence that becomes the ``failed`` result's
``error``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from breeze_agent.commands.journal import Journal
from breeze_protocol import CommandEnvelope
from breeze_protocol.signing import verify_envelope

NO_KEY = "no command key: re-enroll this agent so it receives the server's command key"
BAD_SIGNATURE = "signature does not verify"
REPLAYED = "replayed nonce"


def authentic(envelope: CommandEnvelope, public_key: str | None, agent_id: str) -> str | None:
    """Why the envelope is not a genuine command for this agent, or None."""
    if not public_key:
        return NO_KEY
    if not verify_envelope(public_key, envelope):
        return BAD_SIGNATURE
    if envelope.agent_id != agent_id:
        return f"addressed to agent {envelope.agent_id}, not to this agent ({agent_id})"
    return None


def fresh(envelope: CommandEnvelope, journal: Journal, now: float) -> str | None:
    """Why the (authentic) envelope must not start now, or None."""
    if envelope.expires_at < now:
        return expired(envelope, now)
    if journal.nonce_seen(envelope.nonce):
        return REPLAYED
    return None


def expired(envelope: CommandEnvelope, now: float) -> str:
    when = datetime.fromtimestamp(envelope.expires_at, UTC).isoformat(timespec="seconds")
    return f"expired at {when} ({int(now - envelope.expires_at)}s ago)"
