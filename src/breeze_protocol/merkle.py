"""A SHA-256 Merkle tree over a batch of envelopes, so one signature covers them all.

A broadcast to 10,000 agents signed envelope by envelope spends most of its time in
Ed25519. Signed as a batch, the server signs the tree's root once and gives each agent
its envelope with an inclusion proof: the sibling hashes on the way from its leaf to
the root. The agent rebuilds the root from its own envelope and the proof and checks
the one signature over it, so it still verifies every field of its own envelope and
learns nothing about the others (siblings are hashes).

Leaves and inner nodes hash with different one-byte prefixes (as in RFC 6962), so an
inner node can never pass for a leaf. A node without a sibling moves up unchanged
rather than being paired with itself.

A proof is one base64url string: per level, a side byte (``L``: the sibling is on the
left, ``R``: on the right) followed by the sibling's 32-byte hash, leaf level first.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

HASH_BYTES = 32
STEP_BYTES = 1 + HASH_BYTES
MAX_DEPTH = 40  # 2**40 leaves: far beyond any batch
MAX_PROOF_CHARS = (MAX_DEPTH * STEP_BYTES * 4 + 2) // 3
LEFT, RIGHT = b"L", b"R"
_LEAF, _NODE = b"\x00", b"\x01"


class BadProof(ValueError):
    """A proof that is not well formed (length, side byte, encoding)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(_LEAF + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree over ``leaves`` (leaf hashes), leaves first, root last."""
    if not leaves:
        raise ValueError("a tree needs at least one leaf")
    out = [list(leaves)]
    while len(out[-1]) > 1:
        below = out[-1]
        above = [_node(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        out.append(above)
    return out


def proof_of(tree: list[list[bytes]], index: int) -> str:
    """The inclusion proof of leaf ``index`` of ``tree`` (from `levels`)."""
    steps: list[bytes] = []
    for level in tree[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            steps.append((LEFT if sibling < index else RIGHT) + level[sibling])
        index //= 2
    return base64.urlsafe_b64encode(b"".join(steps)).rstrip(b"=").decode("ascii")


def proof_texts(tree: list[list[bytes]]) -> list[list[str]]:
    """Per level below the root, each node's step as text (side and sibling, base64url;
    "" for a node without a sibling): `proof_of` for every leaf is then these joined
    (`joined_proof`). A step is 33 bytes, a multiple of 3, so base64 of the steps put
    together is the steps' base64 put together, and each step is encoded once for the
    whole batch instead of once per leaf below it."""
    out = []
    for level in tree[:-1]:
        texts = []
        for index in range(len(level)):
            sibling = index ^ 1
            if sibling < len(level):
                step = (LEFT if sibling < index else RIGHT) + level[sibling]
                texts.append(base64.urlsafe_b64encode(step).decode("ascii"))
            else:
                texts.append("")
        out.append(texts)
    return out


def joined_proof(steps: list[list[str]], index: int) -> str:
    """``proof_of(tree, index)`` from the tree's `proof_texts`."""
    return "".join([level[index >> depth] for depth, level in enumerate(steps)])


def root_from(leaf: bytes, proof: str) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` (a leaf hash); BadProof when the
    proof is malformed. Whether that root is the signed one is the caller's check."""
    try:
        raw = base64.urlsafe_b64decode(proof + "=" * (-len(proof) % 4))
    except ValueError as exc:
        raise BadProof("proof is not base64url") from exc
    if len(raw) % STEP_BYTES or len(raw) // STEP_BYTES > MAX_DEPTH:
        raise BadProof("proof has the wrong length")
    node = leaf
    for at in range(0, len(raw), STEP_BYTES):
        side, sibling = raw[at : at + 1], raw[at + 1 : at + STEP_BYTES]
        if side == LEFT:
            node = _node(sibling, node)
        elif side == RIGHT:
            node = _node(node, sibling)
        else:
            raise BadProof("proof step has no side")
    return node
