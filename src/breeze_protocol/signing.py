"""Ed25519 signatures over command envelopes, shared by server (signs) and agent (verifies).

The signed bytes are the envelope's fields except ``signature``, as JSON with sorted keys,
no whitespace and UTF-8 (``canonical_bytes``): both sides compute them from the parsed
fields, so transport re-encoding never breaks a signature, and any change of a field does.
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

from breeze_protocol.commands import CommandEnvelope


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """The bytes a signature covers: every field but ``signature``, canonical JSON."""
    unsigned = {k: v for k, v in fields.items() if k != "signature"}
    return json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half as the agent stores it (raw 32 bytes, base64url)."""
    return _b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign_fields(key: Ed25519PrivateKey, fields: dict[str, Any]) -> str:
    return _b64(key.sign(canonical_bytes(fields)))


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


def verify_envelope(public_key: str, envelope: CommandEnvelope) -> bool:
    """True when ``envelope`` was signed by the private half of ``public_key`` unchanged."""
    try:
        key = Ed25519PublicKey.from_public_bytes(_unb64(public_key))
        key.verify(_unb64(envelope.signature), canonical_bytes(envelope.model_dump(mode="json")))
    except (InvalidSignature, ValueError):
        return False
    return True
