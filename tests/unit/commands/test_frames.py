"""Frames handed straight to sockets are assembled as text: the assembly must give exactly
the protocol's canonical bytes, and every frame must parse as a ``WsCommand`` whose
envelope the agent verifies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from breeze.commands import frames
from breeze_protocol.commands import CommandEnvelope, WsCommand
from breeze_protocol.signing import UNSIGNED, canonical_bytes, public_key_text, verify_envelope

KEY = Ed25519PrivateKey.generate()
PAYLOAD: dict[str, Any] = {
    "language": "bash",
    "content": 'echo "héllo\\n" \u2603 \t </script> \x01',
    "env": {"Z_LAST": "1", "A_FIRST": "ünï", "QUOTE": '"'},
    "timeout_seconds": 300,
    "run_as": None,
    "max_output_bytes": 1_048_576,
    "script_id": "5d0c1b1e-0000-4000-8000-000000000000",
    "nested": {"b": [1, 2.5, True, None], "a": {"y": 1, "x": 2}},
}


def fields(i: int, payload: dict[str, Any] = PAYLOAD) -> dict[str, Any]:
    return {
        "id": f"9a1b7c0e-0000-4000-8000-{i:012d}",
        "agent_id": f"agt_{i}_é",
        "type": "script",
        "payload": payload,
        "issued_at": 1_700_000_000 + i,
        "expires_at": 1_800_000_000,
        "nonce": f"n-{i:06d}-0123456789_-",
    }


def test_the_fields_assembled_are_exactly_the_envelopes_signed_fields() -> None:
    assert set(frames.SIGNED_FIELDS) == set(CommandEnvelope.model_fields) - UNSIGNED
    assert list(frames.SIGNED_FIELDS) == sorted(frames.SIGNED_FIELDS)


@pytest.mark.parametrize("payload", [PAYLOAD, {}, {"command_id": "x"}])
def test_canonical_text_is_canonical_bytes(payload: dict[str, Any]) -> None:
    seen: dict[int, str] = {}
    for i in range(3):  # the second and third reuse the payload's encoding
        f = fields(i, payload)
        assert frames.canonical_text(f, seen).encode() == canonical_bytes(f)
    assert len(seen) == 1


@pytest.mark.parametrize("odd", ['quote " and \\ back', "new\nline\ttab \x01 \u2028", "ünïcødé ☃"])
def test_canonical_text_escapes_strings_as_canonical_json_does(odd: str) -> None:
    f = fields(0) | {"agent_id": odd, "nonce": odd, "id": odd, "type": odd}
    assert frames.canonical_text(f, {}).encode() == canonical_bytes(f)


@pytest.mark.parametrize("size", [1, 2, 7, 1201])
def test_every_frame_parses_and_verifies_for_its_own_agent(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames, "CHUNK", 500)
    batch = [fields(i) for i in range(size)]
    texts = asyncio.run(frames.batch_frames(KEY, batch))
    public = public_key_text(KEY)
    envelopes = [WsCommand.model_validate_json(t).command for t in texts]
    assert [e.id for e in envelopes] == [f["id"] for f in batch]
    for f, envelope in zip(batch, envelopes, strict=True):
        assert envelope.agent_id == f["agent_id"] and envelope.payload == PAYLOAD
        assert verify_envelope(public, envelope)
    if size == 1:
        assert envelopes[0].proof is None
        assert '"proof"' not in texts[0]  # as CommandEnvelope serialises it
    else:
        assert len({e.signature for e in envelopes}) == 1
    other = public_key_text(Ed25519PrivateKey.generate())
    assert not verify_envelope(other, envelopes[0])


def test_the_loop_runs_between_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "CHUNK", 4)
    ticks: list[int] = []

    async def ticker() -> None:
        for i in range(1000):
            ticks.append(i)
            await asyncio.sleep(0)

    async def go() -> list[str]:
        other = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        started = len(ticks)
        out = await frames.batch_frames(KEY, [fields(i) for i in range(10)])
        assert len(ticks) >= started + 5  # 3 chunks hashed, 3 framed: a turn between each
        other.cancel()
        return out

    assert len(asyncio.run(go())) == 10
