"""Commands (agent protocol v1): the signed envelope the server hands out, the payload of
each command type, and what the agent reports back.

Delivery: an envelope reaches the agent over its WebSocket the moment it is queued, or in
the ``commands`` of the next heartbeat answer. A command may arrive more than once (the
server re-delivers a command the agent never acknowledged); the agent runs a command id at
most once and answers a repeat with the result it already has.

Life of a command on the agent:

1. verify the envelope (signature, ``agent_id``, expiry, unseen nonce), else report
   ``failed`` with ``error`` saying why (nothing runs);
2. acknowledge (``CommandAck``): the command is now ``running``;
3. stream output (``OutputChunk``, over the WebSocket or
   ``POST .../output``) while it runs;
4. report the result (``CommandResult``); idempotent, a repeat changes nothing.

Acks and results go as ``WsAck``/``WsResult`` frames over the WebSocket when the server's
``WsHello`` says it takes them; the server answers each with a ``WsReceipt`` once it is
stored (or refused). Without a socket, a hello or a receipt in time, they are POSTed:
``POST /agents/{agent_id}/commands/{command_id}/ack`` and ``.../result``.

A cancel arrives as an envelope of type ``cancel`` whose payload names the command.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from breeze_protocol import merkle
from breeze_protocol._base import WireModel

CommandType = Literal["script", "reboot", "shutdown", "collect_inventory", "update_agent"]
EnvelopeType = Literal[
    "script", "reboot", "shutdown", "collect_inventory", "update_agent", "cancel"
]
FinalStatus = Literal["completed", "failed", "timeout", "cancelled"]
ScriptLanguage = Literal["bash", "sh", "python", "powershell", "cmd"]
Stream = Literal["stdout", "stderr"]

# Linux convention for "succeeded, reboot required" (Windows' 3010 modulo 256 on POSIX).
EXIT_REBOOT_REQUIRED_POSIX = 194
EXIT_REBOOT_REQUIRED_WINDOWS = 3010
MAX_OUTPUT_BYTES = 1_048_576  # per stream, hard ceiling of the per-command cap
TRUNCATION_MARKER = "\n[... output truncated by breeze-agent: {dropped} bytes dropped ...]\n"


class CommandEnvelope(WireModel):
    """A command as the agent receives it. ``signature`` is Ed25519 (base64url, no padding)
    over ``breeze_protocol.signing.canonical_bytes`` of every other field, by the server key
    whose public half the agent got at enrollment (``EnrollResponse.command_public_key``),
    either of the envelope alone or, with ``proof``, of the batch it was signed in."""

    id: str = Field(min_length=1, max_length=64, description="Command id (UUID).")
    agent_id: str = Field(min_length=1, max_length=64, description="The only agent it is for.")
    type: EnvelopeType = Field(description="What to do.")
    payload: dict[str, Any] = Field(default_factory=dict, description="Type-specific body.")
    issued_at: int = Field(ge=0, description="Unix seconds when the server signed it.")
    expires_at: int = Field(ge=0, description="Unix seconds after which it must not start.")
    nonce: str = Field(min_length=16, max_length=64, description="Unique per envelope.")
    signature: str = Field(min_length=1, max_length=200, description="Ed25519, base64url.")
    proof: str | None = Field(
        None,
        max_length=merkle.MAX_PROOF_CHARS,
        description="Null when the signature covers this envelope alone. Otherwise it was "
        "signed as one of a batch: the Merkle inclusion proof (base64url) from this "
        "envelope to the signed root (breeze_protocol.merkle).",
    )

    @model_serializer(mode="wrap")
    def _without_null_proof(self, handler: SerializerFunctionWrapHandler) -> Any:
        """An envelope signed alone is sent without ``proof``, exactly as before the field
        existed, so an agent that predates it still accepts it."""
        data = handler(self)
        if isinstance(data, dict) and data.get("proof", "") is None:
            del data["proof"]
        return data


class ScriptPayload(WireModel):
    """Payload of ``script``: run ``content`` with ``language``'s interpreter."""

    language: ScriptLanguage
    content: str = Field(max_length=1_000_000)
    env: dict[str, str] = Field(
        default_factory=dict, description="Parameters, passed as environment variables."
    )
    timeout_seconds: int = Field(300, ge=1, le=86_400)
    run_as: str | None = Field(
        None,
        max_length=64,
        description="None: as the agent's own user (root for a system install); "
        "otherwise a local user name (Linux: the agent must be root).",
    )
    max_output_bytes: int = Field(
        65_536, ge=1024, le=MAX_OUTPUT_BYTES, description="Cap per stream (stdout, stderr)."
    )
    script_id: str | None = Field(None, description="Library script, for the agent's log.")


class PowerPayload(WireModel):
    """Payload of ``reboot`` and ``shutdown``."""

    delay_seconds: int = Field(0, ge=0, le=3600)
    message: str = Field("", max_length=200, description="Shown to logged-in users.")


class CollectInventoryPayload(WireModel):
    """Payload of ``collect_inventory``: send a full inventory now."""


class UpdateAgentPayload(WireModel):
    """Payload of ``update_agent``. The wheel's sha256 is covered by the envelope signature,
    so a matching download is the exact file the server meant."""

    version: str = Field(min_length=1, max_length=50)
    url: str = Field(min_length=1, max_length=500, description="Path under the server URL.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1)


class CancelPayload(WireModel):
    """Payload of ``cancel``: stop that command (its whole process tree)."""

    command_id: str = Field(min_length=1, max_length=64)


class CommandAck(WireModel):
    """Body of ``POST /agents/{agent_id}/commands/{command_id}/ack``: it started."""

    status: Literal["running"] = "running"
    pending_reboot: bool = Field(
        False, description="True for reboot: the device is about to restart."
    )


class OutputChunk(WireModel):
    """A piece of a running command's output, in order per command (``seq`` from 0)."""

    command_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=10_000_000)
    stream: Stream
    data: str = Field(max_length=65_536)


class OutputBatch(WireModel):
    """Body of ``POST /agents/{agent_id}/commands/{command_id}/output``."""

    chunks: list[OutputChunk] = Field(max_length=200)


class CommandResult(WireModel):
    """Body of ``POST /agents/{agent_id}/commands/{command_id}/result``."""

    status: FinalStatus
    exit_code: int | None = Field(None, ge=-2_147_483_648, le=2_147_483_647)
    stdout: str = Field("", max_length=MAX_OUTPUT_BYTES + 1024)
    stderr: str = Field("", max_length=MAX_OUTPUT_BYTES + 1024)
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_ms: int | None = Field(None, ge=0, le=2**40)
    error: str | None = Field(
        None, max_length=2000, description="Why it did not run or did not finish, in words."
    )
    pending_reboot: bool = Field(False, description="The script asked for a reboot.")
    rebooted: bool = Field(False, description="reboot: the device came back after it.")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Type-specific facts (e.g. the agent version now)."
    )


# -- WebSocket frames (JSON text messages) --------------------------------------------------


class WsCommand(WireModel):
    """server -> agent: run (or cancel) this."""

    type: Literal["command"] = "command"
    command: CommandEnvelope


class WsOutput(WireModel):
    """agent -> server: output of a running command (instead of ``POST .../output``)."""

    type: Literal["output"] = "output"
    chunks: list[OutputChunk] = Field(max_length=200)


class WsHello(WireModel):
    """server -> agent, the first frame: what this server takes over the socket."""

    type: Literal["hello"] = "hello"
    reports: bool = Field(False, description="Acks and results may come as WsAck/WsResult frames.")


class WsAck(WireModel):
    """agent -> server: the command started (instead of ``POST .../ack``)."""

    type: Literal["ack"] = "ack"
    command_id: str = Field(min_length=1, max_length=64)
    ack: CommandAck = Field(default_factory=CommandAck)


class WsResult(WireModel):
    """agent -> server: the command's final result (instead of ``POST .../result``)."""

    type: Literal["result"] = "result"
    command_id: str = Field(min_length=1, max_length=64)
    result: CommandResult


ReportKind = Literal["ack", "result"]


class WsReceipt(WireModel):
    """server -> agent: what became of a WsAck or WsResult, with the status code its POST
    would have had: 204 stored (a repeat included), 404 no such command for this device,
    422 refused as malformed, 503 not stored now (send it again later, or POST it)."""

    type: Literal["receipt"] = "receipt"
    kind: ReportKind
    command_id: str = Field(max_length=64)
    status: int
    error: str | None = Field(None, max_length=2000)
