"""The command-signing key file: created once, private, shared by concurrent starters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from breeze.commands import signing
from breeze.settings import CommandSettings, Settings
from breeze_protocol.signing import sign_envelope, verify_envelope

PRINT_KEY = (
    "import sys; from pathlib import Path; from breeze.settings import Settings;"
    "from breeze.commands.signing import public_key;"
    "print(public_key(Settings(data_dir=Path(sys.argv[1]))))"
)


def test_the_key_is_created_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    key = signing.private_key(settings)
    path = tmp_path / "data" / signing.DEFAULT_FILE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    assert signing.private_key(settings) is key
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    env = sign_envelope(
        key,
        id="c1",
        agent_id="agt_1",
        type="collect_inventory",
        payload={},
        issued_at=1,
        expires_at=2,
        nonce="n" * 16,
    )
    assert verify_envelope(signing.public_key(settings), env)


def test_an_explicit_key_file_is_used(tmp_path: Path) -> None:
    explicit = tmp_path / "keys" / "shared.pem"
    settings = Settings(
        data_dir=tmp_path / "data", commands=CommandSettings(signing_key_file=explicit)
    )
    signing.private_key(settings)
    assert explicit.exists()
    assert not (tmp_path / "data" / signing.DEFAULT_FILE_NAME).exists()


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PRINT_KEY, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(keys) == 1 and "" not in keys
