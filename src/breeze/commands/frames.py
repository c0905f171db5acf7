"""Commands signed as a batch, and the WebSocket frames of those handed straight to
sockets, built as text.

The envelopes of a script batch differ only in id, agent and nonce. Built as models and
then serialised for the frame, each encoded the batch's payload twice (once for the
signature, once for the wire) and made a handful of objects the garbage collector then
walked. Here each envelope's canonical JSON (what a signature covers:
`breeze_protocol.signing.canonical_bytes`) is assembled from its fields with the payload
encoded once per batch; the frame is that JSON with ``signature`` and ``proof`` added.
``tests/unit/commands/test_frames.py`` holds `canonical_text` to ``canonical_bytes``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from breeze_protocol import merkle
from breeze_protocol.signing import canonical_json, sign_message, sign_tree

CHUNK = 500  # envelopes per turn of the event loop (a few ms)
# The envelope's signed fields in canonical (sorted) order: canonical_bytes sorts keys.
SIGNED_FIELDS = ("agent_id", "expires_at", "id", "issued_at", "nonce", "payload", "type")


def _text(value: Any) -> str:
    """`canonical_json` of a field: a string straight through the encoder's string
    function, which is what ``json.dumps(..., ensure_ascii=False)`` calls for one. The
    whole `json.dumps` per field took ~40 ms of the 0.29 s of framing 10,000 envelopes."""
    return encode_basestring(value) if type(value) is str else canonical_json(value)


def canonical_text(fields: Mapping[str, Any], payloads: dict[int, str]) -> str:
    """``canonical_bytes(fields)`` as text, reusing the encoding of a payload object
    already seen (`payloads`: id of the payload dict → its JSON, for one batch)."""
    payload = fields["payload"]
    encoded = payloads.get(id(payload))
    if encoded is None:
        encoded = payloads[id(payload)] = canonical_json(payload)
    return (
        f'{{"agent_id":{_text(fields["agent_id"])},"expires_at":{int(fields["expires_at"])},'
        f'"id":{_text(fields["id"])},"issued_at":{int(fields["issued_at"])},'
        f'"nonce":{_text(fields["nonce"])},"payload":{encoded},"type":{_text(fields["type"])}}}'
    )


def frame_of(canonical: str, signature: str, proof: str | None) -> str:
    """The ``WsCommand`` frame of a signed envelope (without ``proof`` when it was signed
    alone, as ``CommandEnvelope`` serialises it). Signature and proof are base64url, which
    needs no escaping in JSON."""
    tail = f',"proof":"{proof}"' if proof is not None else ""
    return f'{{"type":"command","command":{canonical[:-1]},"signature":"{signature}"{tail}}}}}'


@dataclass(frozen=True)
class SignedBatch:
    """Envelopes signed together: each one's canonical JSON and proof (None when the
    batch is one envelope, signed alone), and the one signature."""

    texts: list[str]
    signature: str
    proofs: list[str | None]


async def signed_batch(key: Ed25519PrivateKey, batch: Sequence[Mapping[str, Any]]) -> SignedBatch:
    """Sign `batch` (each an envelope's unsigned fields) with one signature over the root
    of the tree of their canonical JSON. On the event loop, CHUNK envelopes at a time with
    a turn of the loop between chunks, so heartbeats wait at most one chunk."""
    payloads: dict[int, str] = {}
    texts: list[str] = []
    leaves: list[bytes] = []
    for at in range(0, len(batch), CHUNK):
        if at:
            await asyncio.sleep(0)
        chunk = [canonical_text(fields, payloads) for fields in batch[at : at + CHUNK]]
        texts += chunk
        leaves += [merkle.leaf_hash(text.encode()) for text in chunk]
    if not texts:
        return SignedBatch([], "", [])
    if len(texts) == 1:  # alone: the plain signature of its canonical bytes
        return SignedBatch(texts, sign_message(key, texts[0].encode()), [None])
    tree, signature = sign_tree(key, leaves)
    steps = merkle.proof_texts(tree)
    proofs: list[str | None] = []
    for at in range(0, len(texts), CHUNK):
        await asyncio.sleep(0)
        proofs += [merkle.joined_proof(steps, i) for i in range(at, min(at + CHUNK, len(texts)))]
    return SignedBatch(texts, signature, proofs)


async def batch_frames(key: Ed25519PrivateKey, batch: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ``WsCommand`` frames of `batch`, in order, signed as one batch."""
    signed = await signed_batch(key, batch)
    return [
        frame_of(text, signed.signature, proof)
        for text, proof in zip(signed.texts, signed.proofs, strict=True)
    ]
