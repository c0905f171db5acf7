"""Queueing and hand-out: signed envelopes in the heartbeat answer, at most once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from breeze_protocol.commands import CommandEnvelope
from breeze_protocol.signing import verify_envelope
from tests.factories import ok
from tests.integration.agents.helpers import audit_of
from tests.integration.commands.helpers import Agent, detail, queue, queued, stored
from tests.support.server import LiveServer


def test_a_queued_command_is_handed_out_signed_in_the_next_heartbeat(
    cmd_admin: httpx.Client, agent: Agent, cmd_server: LiveServer
) -> None:
    cmd = queued(
        cmd_admin,
        agent.device_id,
        payload={"language": "bash", "content": "echo hi", "env": {"A": "1"}},
        timeout_seconds=30,
    )
    assert cmd["status"] == "pending"
    assert cmd["device_id"] == agent.device_id
    assert cmd["timeout_seconds"] == 30
    assert cmd["payload"]["timeout_seconds"] == 30
    assert cmd["payload"]["max_output_bytes"] == 65_536
    assert cmd["created_by_type"] == "user"

    [env] = agent.heartbeat()
    assert env.id == cmd["id"] and env.type == "script"
    assert env.payload["content"] == "echo hi" and env.payload["env"] == {"A": "1"}
    assert env.expires_at > env.issued_at
    # Any change of a signed field breaks the signature.
    forged = env.model_copy(update={"payload": {**env.payload, "content": "rm -rf /"}})
    assert not verify_envelope(agent.public_key, forged)

    after = detail(cmd_admin, agent.device_id, cmd["id"])
    assert after["status"] == "sent" and after["delivery_count"] == 1 and after["sent_at"]
    assert agent.heartbeat() == []  # handed out once
    actions = [a.action for a in audit_of(cmd_server, agent.device_id)]
    assert "device.command.queue" in actions


def test_commands_come_oldest_first_and_the_key_is_the_servers(
    cmd_admin: httpx.Client, agent: Agent
) -> None:
    ids = [queued(cmd_admin, agent.device_id, "collect_inventory")["id"] for _ in range(3)]
    ids.append(queued(cmd_admin, agent.device_id, "reboot", payload={"delay_seconds": 5})["id"])
    envelopes = agent.heartbeat()
    assert [e.id for e in envelopes] == ids
    assert envelopes[-1].payload == {"delay_seconds": 5, "message": ""}
    assert len({e.nonce for e in envelopes}) == 4


def test_concurrent_heartbeats_never_hand_out_a_command_twice(
    cmd_admin: httpx.Client, agent: Agent
) -> None:
    ids = {queued(cmd_admin, agent.device_id, "collect_inventory")["id"] for _ in range(12)}

    def beat(_: int) -> list[CommandEnvelope]:
        return agent.heartbeat()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(beat, range(16)))
    handed = [e.id for answer in answers for e in answer]
    assert sorted(handed) == sorted(ids)  # each exactly once


def test_bad_payloads_are_refused_naming_the_field(cmd_admin: httpx.Client, agent: Agent) -> None:
    def field_of(r: httpx.Response) -> list[str]:
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        return [e["field"] for e in r.json()["errors"]]

    device = agent.device_id
    assert "payload.content" in field_of(queue(cmd_admin, device, payload={"language": "bash"}))
    assert "payload.language" in field_of(
        queue(cmd_admin, device, payload={"language": "cobol", "content": "x"})
    )
    assert "payload.delay_seconds" in field_of(
        queue(cmd_admin, device, "reboot", payload={"delay_seconds": 99_999})
    )
    assert "payload.surprise" in field_of(
        queue(cmd_admin, device, "collect_inventory", payload={"surprise": 1})
    )
    assert "type" in field_of(queue(cmd_admin, device, "format_disk", payload={}))
    assert "timeout_seconds" in field_of(
        queue(cmd_admin, device, "collect_inventory", timeout_seconds=0)
    )
    nul = field_of(queue(cmd_admin, device, payload={"language": "bash", "content": "a\x00b"}))
    assert all(f.startswith("payload") for f in nul)
    assert ok(cmd_admin.get(f"/api/v1/devices/{device}/commands"))["total"] == 0


def test_the_signing_key_survives_a_restart(
    cmd_admin: httpx.Client, agent: Agent, cmd_server: LiveServer
) -> None:
    key_file = cmd_server.data_dir / "command-signing.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    cmd = queued(cmd_admin, agent.device_id, "collect_inventory")
    cmd_server.restart()
    [env] = agent.heartbeat()  # verified against the key from enrollment
    assert env.id == cmd["id"]
    assert stored(cmd_server, cmd["id"]).status == "sent"


def test_update_agent_is_resolved_to_a_release_of_this_server(
    cmd_admin: httpx.Client, agent: Agent
) -> None:
    import breeze_agent

    cmd = queued(cmd_admin, agent.device_id, "update_agent")
    assert cmd["payload"]["version"] == breeze_agent.__version__
    assert cmd["payload"]["url"].startswith("/api/v1/agents/releases/")
    assert len(cmd["payload"]["sha256"]) == 64 and cmd["payload"]["size"] > 0
    [env] = agent.heartbeat()
    assert env.type == "update_agent" and env.payload == cmd["payload"]
    r = queue(cmd_admin, agent.device_id, "update_agent", payload={"version": "0.0.0-nope"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["payload.version"]
