"""Enrollment: prove the key, receive an identity, write the config, send a full inventory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from breeze_agent import __version__
from breeze_agent.collectors import collect_inventory, hardware, network, os_info
from breeze_agent.config import (
    AgentFileConfig,
    check_server_url,
    journal_path,
    machine_id,
    save_config,
    state_path,
)
from breeze_agent.state import AgentState, save_state, section_hashes
from breeze_agent.transport import Gateway, Refused, TransportError
from breeze_protocol import EnrollRequest, OsType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnrollResult:
    config: AgentFileConfig
    config_path: Path
    inventory_sent: bool
    inventory_error: str | None


def build_request(key: str, machine: str) -> EnrollRequest:
    """The enrollment body from this machine's own answers."""
    osi = os_info.collect()
    hw = hardware.collect()
    net = network.collect()
    os_type: OsType = osi.os_type if osi.os_type != "other" else "linux"
    return EnrollRequest(
        enrollment_key=key,
        machine_id=machine,
        hostname=(osi.hostname or socket.gethostname())[:255],
        os_type=os_type,
        os_version=(osi.version or "")[:100],
        os_build=(osi.build or osi.kernel or "")[:100],
        architecture=(osi.architecture or "")[:20],
        agent_version=__version__,
        hardware_info=hw.model_dump(mode="json"),
        network_info=net.model_dump(mode="json"),
    )


async def send_full_inventory(config: AgentFileConfig, config_path: Path) -> None:
    """Collect and PUT a full inventory; on success remember each section's hash."""
    inventory = await asyncio.to_thread(collect_inventory)
    async with Gateway(
        config.server_url,
        token=config.auth_token,
        ca_cert=config.ca_cert,
        insecure=config.insecure,
    ) as gw:
        await gw.inventory(config.agent_id, inventory)
    path = state_path(config_path)
    state = AgentState(
        full_inventory_sent=True,
        section_hashes=section_hashes(inventory),
        last_inventory_at=datetime.now(UTC),
        last_inventory_mode="full",
    )
    save_state(path, state)


async def enroll(
    *,
    server_url: str,
    key: str,
    config_path: Path,
    insecure: bool = False,
    ca_cert: str | None = None,
) -> EnrollResult:
    """Enroll this machine; raises ConfigError / TransportError / Refused on failure."""
    url = check_server_url(server_url, insecure=insecure)
    ca = ca_cert  # the CLI passes an absolute path
    machine = machine_id(config_path.parent)
    request = await asyncio.to_thread(build_request, key, machine)
    async with Gateway(url, ca_cert=ca, insecure=insecure) as gw:
        answer, version = await gw.enroll(request)
    config = AgentFileConfig(
        server_url=url,
        agent_id=answer.agent_id,
        device_id=answer.device_id,
        auth_token=answer.auth_token,
        heartbeat_interval_seconds=answer.config.heartbeat_interval_seconds,
        inventory_interval_seconds=answer.config.inventory_interval_seconds,
        config_version=version,
        ca_cert=ca,
        insecure=insecure,
        command_public_key=answer.config.command_public_key,
    )
    save_config(config_path, config)
    # A new identity starts from scratch: the old state (hashes) belongs to another device.
    save_state(state_path(config_path), AgentState())
    # ... and so do the old identity's journal (nonces, undelivered results).
    with contextlib.suppress(FileNotFoundError):
        journal_path(config_path).unlink()
    try:
        await send_full_inventory(config, config_path)
    except (TransportError, Refused, OSError) as exc:
        log.warning("enrolled, but the first inventory failed (run will retry): %s", exc)
        return EnrollResult(config, config_path, False, str(exc))
    return EnrollResult(config, config_path, True, None)
