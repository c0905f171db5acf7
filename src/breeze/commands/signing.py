"""The server's command-signing key (Ed25519).

One key per deployment: agents keep the first public key they are given, so every server
replica must load the same file (``BREEZE_COMMANDS__SIGNING_KEY_FILE`` on shared storage, or
the same file copied to each). The file is created on first use, mode 0600, atomically: the
key is written to a temporary file and hard-linked into place, which fails when another
process got there first, so two processes starting together end up with the same key.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from breeze.settings import Settings
from breeze_protocol import signing

DEFAULT_FILE_NAME = "command-signing.key"
_cache: dict[Path, Ed25519PrivateKey] = {}
_lock = threading.Lock()


class SigningKeyError(RuntimeError):
    """The configured key file exists but is not an Ed25519 private key."""


def key_path(settings: Settings) -> Path:
    explicit = settings.commands.signing_key_file
    return (explicit or settings.data_dir / DEFAULT_FILE_NAME).expanduser().resolve()


def _load(path: Path) -> Ed25519PrivateKey:
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} does not hold an Ed25519 private key")
    return key


def _create(path: Path) -> None:
    """Write a new key unless the file exists; a concurrent creator's key wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        # link() refuses an existing target: exactly one creator's file becomes the key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def private_key(settings: Settings) -> Ed25519PrivateKey:
    """The signing key, loaded once per process (created when missing)."""
    path = key_path(settings)
    cached = _cache.get(path)
    if cached is not None:
        return cached
    with _lock:
        cached = _cache.get(path)
        if cached is None:
            if not path.exists():
                _create(path)
            cached = _cache[path] = _load(path)
    return cached


def public_key(settings: Settings) -> str:
    """The public half as agents store it (``AgentConfig.command_public_key``)."""
    return signing.public_key_text(private_key(settings))
