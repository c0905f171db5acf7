"""Envelopes signed as a batch: one Ed25519 signature over a Merkle root, each envelope
with its inclusion proof. Every field of every envelope is still covered, proofs are not
interchangeable, and malformed proofs are refused without raising."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from breeze_protocol import merkle
from breeze_protocol.signing import (
    VerifiedRoots,
    public_key_text,
    sign_batch,
    sign_built,
    verify_envelope,
)

KEY = Ed25519PrivateKey.generate()
PUBLIC = public_key_text(KEY)


def fields(i: int) -> dict[str, Any]:
    return {
        "id": f"cmd-{i}",
        "agent_id": f"agt_{i}",
        "type": "script",
        "payload": {"language": "sh", "content": f"echo {i}"},
        "issued_at": 1_700_000_000,
        "expires_at": 1_700_003_600,
        "nonce": f"nonce-{i:06d}-abcdefgh",
    }


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 33, 1000])
def test_every_envelope_of_a_batch_verifies(size: int) -> None:
    envelopes = sign_batch(KEY, [fields(i) for i in range(size)])
    assert [e.id for e in envelopes] == [f"cmd-{i}" for i in range(size)]
    assert all(verify_envelope(PUBLIC, e) for e in envelopes)
    if size == 1:
        assert envelopes[0].proof is None
        assert envelopes[0] == sign_built(KEY, fields(0))  # alone: the plain signature
    else:
        assert len({e.signature for e in envelopes}) == 1
        assert all(e.proof for e in envelopes)


def test_the_envelope_survives_the_wire() -> None:
    from breeze_protocol.commands import CommandEnvelope

    envelope = sign_batch(KEY, [fields(i) for i in range(6)])[4]
    again = CommandEnvelope.model_validate_json(envelope.model_dump_json())
    assert verify_envelope(PUBLIC, again)


@pytest.mark.parametrize(
    "change",
    [
        {"agent_id": "agt_0"},
        {"payload": {"language": "sh", "content": "rm -rf /"}},
        {"expires_at": 1_800_000_000},
        {"nonce": "nonce-000000-abcdefgh"},
        {"id": "cmd-0"},
    ],
    ids=["agent", "payload", "expiry", "nonce", "id"],
)
def test_any_changed_field_fails(change: dict[str, Any]) -> None:
    envelope = sign_batch(KEY, [fields(i) for i in range(5)])[3]
    assert not verify_envelope(PUBLIC, envelope.model_copy(update=change))


def test_proofs_are_not_interchangeable_and_cannot_be_dropped() -> None:
    a, b, *_ = sign_batch(KEY, [fields(i) for i in range(4)])
    assert not verify_envelope(PUBLIC, a.model_copy(update={"proof": b.proof}))
    assert not verify_envelope(PUBLIC, a.model_copy(update={"proof": None}))
    other = sign_batch(Ed25519PrivateKey.generate(), [fields(i) for i in range(4)])[0]
    assert not verify_envelope(PUBLIC, other)  # another key's batch


def test_a_shortened_proof_fails() -> None:
    """The proof of a two-envelope batch without its only step claims the envelope's leaf
    is the root itself; the root is a node hash, so it fails."""
    a, _b = sign_batch(KEY, [fields(0), fields(1)])
    assert not verify_envelope(PUBLIC, a.model_copy(update={"proof": ""}))


@pytest.mark.parametrize(
    "proof",
    [
        "***not base64***",
        base64.urlsafe_b64encode(b"L" + b"\x00" * 31).decode().rstrip("="),  # short step
        base64.urlsafe_b64encode(b"X" + b"\x00" * 32).decode().rstrip("="),  # no side
        base64.urlsafe_b64encode(b"R" + b"\x00" * 32).decode().rstrip("="),  # wrong hash
    ],
    ids=["encoding", "length", "side", "sibling"],
)
def test_malformed_proofs_are_refused_without_raising(proof: str) -> None:
    envelope = sign_batch(KEY, [fields(i) for i in range(3)])[0]
    assert not verify_envelope(PUBLIC, envelope.model_copy(update={"proof": proof}))


def test_a_proof_deeper_than_any_batch_is_refused() -> None:
    too_deep = base64.urlsafe_b64encode((b"L" + b"\x00" * 32) * (merkle.MAX_DEPTH + 1))
    with pytest.raises(merkle.BadProof):
        merkle.root_from(b"\x00" * 32, too_deep.decode())


def test_remembered_roots_skip_only_the_signature_check() -> None:
    batch = sign_batch(KEY, [fields(i) for i in range(8)])
    verified: VerifiedRoots = set()
    assert verify_envelope(PUBLIC, batch[0], verified)
    assert len(verified) == 1
    assert all(verify_envelope(PUBLIC, e, verified) for e in batch[1:])
    assert len(verified) == 1  # one root for the whole batch
    forged = batch[5].model_copy(update={"payload": {"language": "sh", "content": "reboot"}})
    assert not verify_envelope(PUBLIC, forged, verified)  # its root is not the signed one
    other_key = public_key_text(Ed25519PrivateKey.generate())
    assert not verify_envelope(other_key, batch[2], verified)  # remembered per key


def test_an_envelope_signed_alone_is_sent_as_before_the_proof_field() -> None:
    """Without ``proof`` on the wire, so an agent whose model predates the field (wire
    models refuse unknown keys) still takes it; a batch envelope carries it."""
    from pydantic import create_model

    from breeze_protocol._base import WireModel
    from breeze_protocol.commands import CommandEnvelope

    older = create_model(  # type: ignore[call-overload]
        "OlderEnvelope",
        __base__=WireModel,
        **{n: (f.annotation, f) for n, f in CommandEnvelope.model_fields.items() if n != "proof"},
    )
    (alone,) = sign_batch(KEY, [fields(0)])
    assert "proof" not in alone.model_dump_json()
    older.model_validate_json(alone.model_dump_json())
    first, _ = sign_batch(KEY, [fields(0), fields(1)])
    assert '"proof":"' in first.model_dump_json()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 1201])
def test_proofs_joined_from_shared_steps_are_each_leafs_own_proof(size: int) -> None:
    tree = merkle.levels([merkle.leaf_hash(str(i).encode()) for i in range(size)])
    steps = merkle.proof_texts(tree)
    for i in range(size):
        proof = merkle.joined_proof(steps, i)
        assert proof == merkle.proof_of(tree, i)
        assert merkle.root_from(tree[0][i], proof) == tree[-1][0]
