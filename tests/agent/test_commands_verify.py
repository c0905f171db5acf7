"""Envelope checks before anything runs, and what the journal remembers across restarts.

The key is generated here; the dispatcher is the real one (its Gateway points at a closed
port and is never called: only intake and the journal are exercised).
"""

from __future__ import annotations

import asyncio
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from breeze_agent.commands import power
from breeze_agent.commands.dispatcher import Dispatcher
from breeze_agent.commands.journal import Journal, PowerRecord
from breeze_agent.config import AgentFileConfig, journal_path
from breeze_agent.transport import Gateway
from breeze_protocol import AgentConfig, CommandEnvelope
from breeze_protocol.signing import public_key_text, sign_envelope

AGENT = "agt_commands_test"
KEY = Ed25519PrivateKey.generate()


def unsigned(**changes: Any) -> dict[str, Any]:
    """The fields of a fresh envelope for this agent, before signing."""
    now = int(time.time())
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "agent_id": AGENT,
        "type": "script",
        "payload": {"language": "sh", "content": "echo hi"},
        "issued_at": now,
        "expires_at": now + 600,
        "nonce": uuid.uuid4().hex,
    }
    return fields | changes


def envelope(key: Ed25519PrivateKey = KEY, **changes: Any) -> CommandEnvelope:
    return sign_envelope(key, **unsigned(**changes))


def config(key: str | None = public_key_text(KEY)) -> AgentFileConfig:
    return AgentFileConfig(
        server_url="http://127.0.0.1:9",
        agent_id=AGENT,
        device_id=str(uuid.uuid4()),
        auth_token="brz_agt_test",
        command_public_key=key,
    )


def intake(
    tmp_path: Path, *envelopes: CommandEnvelope, cfg: AgentFileConfig | None = None
) -> Dispatcher:
    """Submit ``envelopes`` to a fresh dispatcher over the journal in ``tmp_path``."""
    cfg = cfg or config()
    path = tmp_path / "agent.json"

    async def go() -> Dispatcher:
        async with Gateway(cfg.server_url) as gw:
            d = Dispatcher(gw=gw, config=cfg, config_path=path, journal=Journal(journal_path(path)))
            for env in envelopes:
                await d.submit(env)
            return d

    return asyncio.run(go())


def refusals(d: Dispatcher) -> dict[str, str]:
    return {cid: r.error or "" for cid, r, refusal in d.journal.outbox() if refusal}


def test_a_genuine_envelope_is_queued(tmp_path: Path) -> None:
    env = envelope()
    d = intake(tmp_path, env)
    entry = d.journal.get(env.id)
    assert entry is not None and entry.state == "queued" and refusals(d) == {}
    mode = stat.S_IMODE(journal_path(tmp_path / "agent.json").stat().st_mode)
    assert mode == 0o600


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: envelope(Ed25519PrivateKey.generate()), "refused: signature does not verify"),
        (
            lambda: envelope().model_copy(
                update={"payload": {"language": "sh", "content": "rm -rf /"}}
            ),
            "refused: signature does not verify",
        ),
        (
            lambda: envelope().model_copy(update={"expires_at": int(time.time()) + 99_999}),
            "refused: signature does not verify",
        ),
        (
            lambda: envelope(agent_id="agt_someone_else"),
            "refused: addressed to agent agt_someone_else",
        ),
        (lambda: envelope(expires_at=int(time.time()) - 5), "refused: expired at "),
    ],
    ids=["other-key", "tampered-payload", "tampered-expiry", "wrong-agent", "expired"],
)
def test_refused_envelopes_never_run(tmp_path: Path, make: Any, why: str) -> None:
    env = make()
    d = intake(tmp_path, env)
    assert d.journal.get(env.id) is None  # nothing queued, nothing will run
    assert refusals(d)[env.id].startswith(why)


def test_a_replayed_nonce_is_refused_even_after_a_restart(tmp_path: Path) -> None:
    first = envelope()
    intake(tmp_path, first)
    replay = envelope(nonce=first.nonce)  # another command id, same nonce
    d = intake(tmp_path, replay)  # a new dispatcher: the journal is on disk
    assert d.journal.get(replay.id) is None
    assert refusals(d) == {replay.id: "refused: replayed nonce"}


def test_without_a_key_nothing_runs(tmp_path: Path) -> None:
    env = envelope()
    d = intake(tmp_path, env, cfg=config(key=None))
    assert d.journal.get(env.id) is None
    assert refusals(d)[env.id].startswith("refused: no command key: re-enroll")


def test_a_repeat_delivery_is_ignored_and_a_forged_copy_does_not_overwrite(tmp_path: Path) -> None:
    env = envelope()
    forged = env.model_copy(update={"payload": {"language": "sh", "content": "reboot"}})
    d = intake(tmp_path, env, env, forged)
    entry = d.journal.get(env.id)
    assert entry is not None and entry.state == "queued"
    assert entry.envelope == env
    assert refusals(d) == {}  # the forged copy is logged, never reported over the real one


def test_a_repeat_of_a_finished_command_reposts_its_result(tmp_path: Path) -> None:
    from breeze_protocol import CommandResult

    env = envelope()
    d = intake(tmp_path, env)
    d.journal.finish(env.id, "script", CommandResult(status="completed", exit_code=0, stdout="x"))
    d.journal.posted(env.id, refusal=False)
    assert d.journal.outbox() == []
    d2 = intake(tmp_path, env)
    [(cid, result, refusal)] = d2.journal.outbox()
    assert (cid, result.status, refusal) == (env.id, "completed", False)


def test_a_cancel_stops_a_queued_command_and_a_forged_cancel_is_ignored(tmp_path: Path) -> None:
    target = envelope()
    forged = envelope(
        Ed25519PrivateKey.generate(), type="cancel", payload={"command_id": target.id}
    )
    d = intake(tmp_path, target, forged)
    entry = d.journal.get(target.id)
    assert entry is not None and entry.state == "queued" and refusals(d) == {}
    d = intake(tmp_path)  # after a restart, recover() queues it again
    d.recover()
    asyncio.run(d.submit(envelope(type="cancel", payload={"command_id": target.id})))
    result = d.journal.get(target.id).result  # type: ignore[union-attr]
    assert result is not None and (result.status, result.error) == (
        "cancelled",
        "cancelled before it started",
    )


def test_a_cancel_of_an_unseen_command_keeps_it_from_ever_running(tmp_path: Path) -> None:
    later = envelope()
    d = intake(tmp_path, envelope(type="cancel", payload={"command_id": later.id}), later)
    entry = d.journal.get(later.id)
    assert entry is not None and entry.state == "done" and entry.result is not None
    assert entry.result.status == "cancelled"


def test_the_first_command_key_is_kept() -> None:
    cfg = config(key=None)
    assert cfg.apply(AgentConfig(command_public_key="first-key"))
    assert not cfg.apply(AgentConfig(command_public_key="second-key"))
    assert cfg.command_public_key == "first-key"


def test_a_reboot_is_confirmed_by_a_new_boot_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    boot = tmp_path / "boot_id"
    boot.write_text("boot-one\n")
    monkeypatch.setenv(power.ENV_BOOT_ID_FILE, str(boot))
    env = envelope(type="reboot", payload={})
    d = intake(tmp_path, env)
    record = PowerRecord(boot_id=power.boot_id(), requested_at=time.time())
    d.journal.set_state(env.id, "running", power=record)
    d.recover()  # same boot: still waiting
    assert d.journal.get(env.id).state == "running"  # type: ignore[union-attr]
    boot.write_text("boot-two\n")
    d = intake(tmp_path)
    d.recover()
    [(cid, result, _)] = d.journal.outbox()
    assert (cid, result.status, result.rebooted) == (env.id, "completed", True)
    assert result.details == {"boot_id": "boot-two", "previous_boot_id": "boot-one"}


def test_a_command_interrupted_by_a_crash_is_reported_failed(tmp_path: Path) -> None:
    env = envelope()
    d = intake(tmp_path, env)
    d.journal.set_state(env.id, "running")
    d = intake(tmp_path)
    d.recover()
    [(cid, result, _)] = d.journal.outbox()
    assert cid == env.id and result.status == "failed"
    assert result.error and result.error.startswith("interrupted")


def test_the_journal_forgets_expired_entries(tmp_path: Path) -> None:
    env = envelope()
    d = intake(tmp_path, env)
    d.journal.set_state(env.id, "handed_off")
    assert d.journal.prune(now=env.expires_at + 10) == 0  # grace against clock skew
    assert d.journal.prune(now=env.expires_at + 7200) == 2  # its nonce and its entry
    assert Journal(d.journal.path).data.nonces == {}


def test_a_script_asking_for_a_reboot_marks_the_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from breeze_protocol import CommandResult

    boot = tmp_path / "boot_id"
    boot.write_text("boot-one\n")
    monkeypatch.setenv(power.ENV_BOOT_ID_FILE, str(boot))
    env = envelope()
    d = intake(tmp_path, env)
    assert not d.pending_reboot()
    d._finish(env, CommandResult(status="completed", exit_code=194, pending_reboot=True))
    assert d.pending_reboot() and intake(tmp_path).pending_reboot()  # kept across restarts
    boot.write_text("boot-two\n")
    assert not d.pending_reboot()


def test_an_envelope_signed_in_a_batch_is_queued_and_a_stolen_proof_is_not(
    tmp_path: Path,
) -> None:
    from breeze_protocol.signing import sign_batch

    batch = [unsigned(agent_id=agent) for agent in (AGENT, "agt_other", "agt_third")]
    mine, theirs, _ = sign_batch(KEY, batch)
    assert mine.proof is not None
    d = intake(tmp_path / "one", mine, theirs)
    entry = d.journal.get(mine.id)
    assert entry is not None and entry.state == "queued"
    assert d.journal.get(theirs.id) is None
    assert refusals(d) == {
        theirs.id: f"refused: addressed to agent agt_other, not to this agent ({AGENT})"
    }
    # Another agent's envelope readdressed to this one, keeping its signature and proof.
    readdressed = theirs.model_copy(update={"agent_id": AGENT})
    d = intake(tmp_path / "two", readdressed)
    assert d.journal.get(readdressed.id) is None
    assert refusals(d) == {readdressed.id: "refused: signature does not verify"}
