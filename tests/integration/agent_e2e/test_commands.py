"""Commands end to end: a real server queues, the real agent process verifies, runs and
reports; the console's command history shows what happened.

Refusal of forged envelopes is proved with the real server's key by the agent's own
dispatcher in this process (an agent process cannot be handed a doctored envelope
through the server, which only signs genuine ones); a replayed nonce under another
command id needs a second signature by the same key, so that case is proved with a test
key in tests/agent/test_commands_verify.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_agent.collectors.metrics import heartbeat
from breeze_agent.commands.dispatcher import Dispatcher
from breeze_agent.commands.journal import Journal
from breeze_agent.config import AgentFileConfig, journal_path, load_config, state_path
from breeze_agent.state import load_state
from breeze_agent.transport import Gateway
from breeze_protocol.commands import TRUNCATION_MARKER
from tests.agent.helpers import require_root
from tests.factories import Tenant, login, make_tenant, ok
from tests.integration.agent_e2e.conftest import (
    E2E_SERVER_ENV,
    AgentProcess,
    enrollment_key,
    eventually,
)
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

FINAL = ("completed", "failed", "timeout", "cancelled")
FAST_COMMANDS = {
    "BREEZE_COMMANDS__REDELIVER_AFTER_SECONDS": "2",
    "BREEZE_COMMANDS__SWEEP_INTERVAL_SECONDS": "0.3",
}


def queue(
    admin: httpx.Client, device_id: str, type_: str, payload: dict[str, Any], **kw: Any
) -> str:
    body = {"type": type_, "payload": payload, **kw}
    return str(ok(admin.post(f"/api/v1/devices/{device_id}/commands", json=body), 201)["id"])


def script(admin: httpx.Client, device_id: str, content: str, **payload: Any) -> str:
    return queue(admin, device_id, "script", {"language": "bash", "content": content, **payload})


def command(admin: httpx.Client, device_id: str, command_id: str) -> dict[str, Any]:
    return ok(admin.get(f"/api/v1/devices/{device_id}/commands/{command_id}"))  # type: ignore[no-any-return]


def final(
    admin: httpx.Client, device_id: str, command_id: str, timeout: float = 30
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        row = command(admin, device_id, command_id)
        return row if row["status"] in FINAL else None

    return eventually(probe, timeout=timeout, what=f"command {command_id} to finish")


def alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def pending_reboot(admin: httpx.Client, device_id: str) -> bool:
    return bool(ok(admin.get(f"/api/v1/devices/{device_id}"))["pending_reboot"])


def running_agent(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, agent: AgentProcess
) -> AgentFileConfig:
    config = agent.enroll(server.url, enrollment_key(admin, tenant.org["id"]))
    assert config.command_public_key, "enrollment must hand out the command key"
    agent.start()
    state = state_path(agent.config_path)
    eventually(lambda: load_state(state).last_heartbeat_ok, what="a first accepted heartbeat")
    return config


def test_scripts_report_output_exit_code_parameters_cap_and_timeout(
    e2e_server: LiveServer, e2e_admin: httpx.Client, e2e_tenant: Tenant, agent: AgentProcess
) -> None:
    cfg = running_agent(e2e_server, e2e_admin, e2e_tenant, agent)
    dev = cfg.device_id
    plain = script(e2e_admin, dev, "echo out; echo err >&2; exit 3")
    params = queue(
        e2e_admin,
        dev,
        "script",
        {
            "language": "python",
            "content": "import os\nprint(os.environ['SITE_NAME'], os.environ['COUNT'])",
            "env": {"SITE_NAME": "north wing", "COUNT": "3"},
        },
    )
    capped = script(e2e_admin, dev, "head -c 5000 /dev/zero | tr '\\0' y", max_output_bytes=1024)
    slow = script(e2e_admin, dev, "echo begun; sleep 60", timeout_seconds=1)

    row = final(e2e_admin, dev, plain)
    assert (row["status"], row["exit_code"]) == ("failed", 3)
    assert (row["stdout"], row["stderr"]) == ("out\n", "err\n")
    assert row["duration_ms"] is not None and row["started_at"] is not None

    row = final(e2e_admin, dev, params)
    assert (row["status"], row["exit_code"], row["stdout"]) == ("completed", 0, "north wing 3\n")

    row = final(e2e_admin, dev, capped)
    assert row["status"] == "completed" and row["stdout_truncated"] is True
    assert row["stdout"] == "y" * 1024 + TRUNCATION_MARKER.format(dropped=5000 - 1024)

    row = final(e2e_admin, dev, slow)
    assert row["status"] == "timeout" and row["stdout"] == "begun\n"
    assert row["duration_ms"] < 15_000


def test_a_script_runs_as_another_user(
    e2e_server: LiveServer, e2e_admin: httpx.Client, e2e_tenant: Tenant, agent: AgentProcess
) -> None:
    require_root()  # only a root agent may switch users
    cfg = running_agent(e2e_server, e2e_admin, e2e_tenant, agent)
    as_nobody = script(e2e_admin, cfg.device_id, 'id -un; touch "$TMPDIR/mine"', run_as="nobody")
    row = final(e2e_admin, cfg.device_id, as_nobody)
    assert (row["status"], row["stdout"], row["stderr"]) == ("completed", "nobody\n", "")


def test_cancel_stops_a_running_sleep(
    e2e_server: LiveServer,
    e2e_admin: httpx.Client,
    e2e_tenant: Tenant,
    agent: AgentProcess,
    tmp_path: Path,
) -> None:
    cfg = running_agent(e2e_server, e2e_admin, e2e_tenant, agent)
    pid_file = tmp_path / "sleep.pid"
    cid = script(e2e_admin, cfg.device_id, f"sleep 120 & echo $! > {pid_file}; echo started; wait")

    def streamed() -> bool:
        row = command(e2e_admin, cfg.device_id, cid)
        return row["status"] == "running" and any(
            c["data"] == "started\n" for c in row.get("output", [])
        )

    eventually(streamed, what="the running command's live output")
    ok(e2e_admin.post(f"/api/v1/devices/{cfg.device_id}/commands/{cid}/cancel"))
    row = final(e2e_admin, cfg.device_id, cid)
    assert row["status"] == "cancelled" and row["stdout"] == "started\n"
    pid = int(pid_file.read_text())
    eventually(lambda: not alive(pid), timeout=10, what="the sleep to be gone")


def test_a_command_queued_while_the_agent_is_away_runs_exactly_once(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = server_factory(**E2E_SERVER_ENV, **FAST_COMMANDS)
    admin = login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    tenant = make_tenant(admin)
    agent = AgentProcess(home=tmp_path / "agent")
    try:
        cfg = running_agent(server, admin, tenant, agent)
        agent.stop()
        ledger = tmp_path / "ledger.txt"
        cid = script(admin, cfg.device_id, f"echo ran >> {ledger}; echo done")
        server.restart()
        agent.start()
        row = final(admin, cfg.device_id, cid)
        assert (row["status"], row["stdout"]) == ("completed", "done\n")
        # Further beats, a re-delivery window and another agent restart change nothing.
        time.sleep(3)
        agent.stop()
        agent.start()
        time.sleep(3)  # a few beats of the restarted agent
        assert ledger.read_text() == "ran\n"
        assert command(admin, cfg.device_id, cid)["status"] == "completed"
    finally:
        agent.stop()
        admin.close()


def test_forged_envelopes_are_refused_with_the_real_servers_key(
    e2e_server: LiveServer, e2e_admin: httpx.Client, e2e_tenant: Tenant, tmp_path: Path
) -> None:
    agent = AgentProcess(home=tmp_path / "agent")  # enrolled, never started: we are the agent
    cfg = agent.enroll(e2e_server.url, enrollment_key(e2e_admin, e2e_tenant.org["id"]))
    marker = tmp_path / "ran.txt"
    cid = script(e2e_admin, cfg.device_id, f"echo genuine >> {marker}")
    other = script(e2e_admin, cfg.device_id, "echo other")

    async def scenario() -> None:
        async with Gateway(cfg.server_url, token=cfg.auth_token) as gw:
            answer, _ = await gw.heartbeat(cfg.agent_id, heartbeat(0.01))
            by_id = {e.id: e for e in answer.commands}
            genuine, second = by_id[cid], by_id[other]
            journal = Journal(journal_path(agent.config_path))
            d = Dispatcher(
                gw=gw,
                config=load_config(agent.config_path),
                config_path=agent.config_path,
                journal=journal,
            )
            stopping = asyncio.Event()
            loop = asyncio.create_task(d.run(stopping))
            tampered = second.model_copy(
                update={"payload": {**second.payload, "content": f"echo forged >> {marker}"}}
            )
            await d.submit(tampered)
            await d.submit(genuine)
            await d.submit(genuine)  # a repeat delivery: still once
            await asyncio.to_thread(final, e2e_admin, cfg.device_id, cid)
            await asyncio.to_thread(final, e2e_admin, cfg.device_id, other)
            stopping.set()
            await loop

    asyncio.run(scenario())
    assert marker.read_text() == "genuine\n"
    row = command(e2e_admin, cfg.device_id, other)
    assert row["status"] == "failed"
    assert row["error"] == "refused: signature does not verify"
    assert command(e2e_admin, cfg.device_id, cid)["status"] == "completed"


def test_reboot_is_reported_after_the_boot_id_changes(
    e2e_server: LiveServer,
    e2e_admin: httpx.Client,
    e2e_tenant: Tenant,
    agent: AgentProcess,
    tmp_path: Path,
) -> None:
    boot = tmp_path / "boot_id"
    boot.write_text("boot-one\n")
    requested = tmp_path / "reboot-requested"
    agent.env.update(
        {
            "BREEZE_AGENT_BOOT_ID_FILE": str(boot),
            "BREEZE_AGENT_REBOOT_COMMAND": f"touch {requested}",
        }
    )
    cfg = running_agent(e2e_server, e2e_admin, e2e_tenant, agent)
    cid = queue(e2e_admin, cfg.device_id, "reboot", {})
    eventually(requested.exists, what="the reboot command to run")
    row = command(e2e_admin, cfg.device_id, cid)
    assert row["status"] == "running"
    # The ack and then every heartbeat (while the reboot is under way) say so.
    eventually(lambda: pending_reboot(e2e_admin, cfg.device_id), what="pending_reboot")
    agent.stop()  # "the machine goes down" ...
    boot.write_text("boot-two\n")  # ... and comes back on a new boot
    agent.start()
    row = final(e2e_admin, cfg.device_id, cid)
    assert row["status"] == "completed"
    assert row["result_details"] == {"boot_id": "boot-two", "previous_boot_id": "boot-one"}
    eventually(lambda: not pending_reboot(e2e_admin, cfg.device_id), what="no pending_reboot")


def test_collect_inventory_now(
    e2e_server: LiveServer, e2e_admin: httpx.Client, e2e_tenant: Tenant, agent: AgentProcess
) -> None:
    cfg = running_agent(e2e_server, e2e_admin, e2e_tenant, agent)
    cid = queue(e2e_admin, cfg.device_id, "collect_inventory", {})
    row = final(e2e_admin, cfg.device_id, cid)
    assert row["status"] == "completed" and row["stdout"].startswith("full inventory sent")


def test_stopping_the_agent_stops_its_scripts_and_reports_them(
    e2e_server: LiveServer,
    e2e_admin: httpx.Client,
    e2e_tenant: Tenant,
    agent: AgentProcess,
    tmp_path: Path,
) -> None:
    cfg = running_agent(e2e_server, e2e_admin, e2e_tenant, agent)
    pid_file = tmp_path / "sleep.pid"
    cid = script(e2e_admin, cfg.device_id, f"sleep 120 & echo $! > {pid_file}; wait")
    eventually(pid_file.exists, what="the script to start")
    started = time.monotonic()
    assert agent.stop() == 0
    assert time.monotonic() - started < 15
    pid = int(pid_file.read_text())
    eventually(lambda: not alive(pid), timeout=10, what="the sleep to be gone")
    agent.start()  # the result was spooled if the server could not take it at once
    row = final(e2e_admin, cfg.device_id, cid)
    assert (row["status"], row["error"]) == ("failed", "stopped: the agent is shutting down")
