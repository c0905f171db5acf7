"""Ed25519 signatures over command envelopes, shared by server (signs) and agent (verifies).

The signed bytes are the envelope's fields except ``signature`` and ``proof``, as JSON with
sorted keys, no whitespace and UTF-8 (``canonical_bytes``): both sides compute them from the
parsed fields, so transport re-encoding never breaks a signature, and any change of a field
does.

An envelope is signed alone (no ``proof``: the signature covers its canonical bytes)
or as one of a batch (`sign_batch`): the signature then covers ``BATCH_CONTEXT`` followed
by the root of a Merkle tree whose leaves are the batch's canonical bytes, and ``proof``
leads from this envelope's leaf to that root (`breeze_protocol.merkle`). Canonical JSON
starts with ``{``, so a batch root's signed message can never be an envelope's.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from breeze_protocol import merkle
from breeze_protocol.commands import CommandEnvelope

BATCH_CONTEXT = b"breeze command batch v1\x00"
UNSIGNED = frozenset({"signature", "proof"})
# (public key, root, signature) of batches already verified, for a verifier that sees many
# envelopes of one batch (the benchmark's simulator runs thousands of agents).
VerifiedRoots = set[tuple[str, bytes, str]]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Any) -> str:
    """Canonical JSON of a value: sorted keys (nested too), no whitespace, no escaping of
    non-ASCII text, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """The bytes a signature covers: every field but ``signature`` and ``proof``, as
    canonical JSON."""
    return canonical_json({k: v for k, v in fields.items() if k not in UNSIGNED}).encode()


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half as the agent stores it (raw 32 bytes, base64url)."""
    return _b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign_message(key: Ed25519PrivateKey, message: bytes) -> str:
    """The signature of `message`, base64url without padding (as envelopes carry it)."""
    return _b64(key.sign(message))


def sign_fields(key: Ed25519PrivateKey, fields: dict[str, Any]) -> str:
    return sign_message(key, canonical_bytes(fields))


def sign_envelope(key: Ed25519PrivateKey, **fields: Any) -> CommandEnvelope:
    """A complete envelope from its unsigned fields (everything but ``signature``)."""
    unsigned = CommandEnvelope.model_construct(**fields, signature="").model_dump(
        mode="json", exclude={"signature"}
    )
    return CommandEnvelope.model_validate({**unsigned, "signature": sign_fields(key, unsigned)})


def sign_built(key: Ed25519PrivateKey, fields: dict[str, Any]) -> CommandEnvelope:
    """`sign_envelope` for fields the server built itself, already JSON values (str, int,
    dict): the same envelope without a validation round trip, which would cost more than
    the signature when a broadcast signs thousands."""
    return CommandEnvelope.model_construct(**fields, signature=sign_fields(key, fields))


def sign_tree(key: Ed25519PrivateKey, leaves: list[bytes]) -> tuple[list[list[bytes]], str]:
    """(the Merkle tree over `leaves`, the one signature of its root)."""
    tree = merkle.levels(leaves)
    return tree, sign_message(key, BATCH_CONTEXT + tree[-1][0])


def sign_batch(key: Ed25519PrivateKey, batch: list[dict[str, Any]]) -> list[CommandEnvelope]:
    """`sign_built` for many envelopes with one signature, over the root of the tree of
    their canonical bytes; each envelope carries its proof. One envelope is signed alone.
    (The server signs on its event loop in chunks: ``breeze.commands.frames``.)"""
    if len(batch) < 2:
        return [sign_built(key, fields) for fields in batch]
    leaves = [merkle.leaf_hash(canonical_bytes(fields)) for fields in batch]
    tree, signature = sign_tree(key, leaves)
    return [
        CommandEnvelope.model_construct(
            **fields, signature=signature, proof=merkle.proof_of(tree, index)
        )
        for index, fields in enumerate(batch)
    ]


def verify_envelope(
    public_key: str, envelope: CommandEnvelope, verified: VerifiedRoots | None = None
) -> bool:
    """True when ``envelope`` was signed by the private half of ``public_key`` unchanged,
    alone or as one of a batch. ``verified``, when given, remembers batch roots already
    checked, so the other envelopes of that batch cost hashes, not a signature check."""
    message = canonical_bytes(envelope.model_dump(mode="json"))
    try:
        if envelope.proof is not None:
            root = merkle.root_from(merkle.leaf_hash(message), envelope.proof)
            if verified is not None and (public_key, root, envelope.signature) in verified:
                return True
            message = BATCH_CONTEXT + root
        key = Ed25519PublicKey.from_public_bytes(_unb64(public_key))
        key.verify(_unb64(envelope.signature), message)
    except (InvalidSignature, ValueError):  # merkle.BadProof is a ValueError
        return False
    if envelope.proof is not None and verified is not None:
        verified.add((public_key, root, envelope.signature))
    return True
