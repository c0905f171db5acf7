"""Payload validation and secret redaction (pure functions of the commands domain)."""

from __future__ import annotations

import pytest

from breeze.commands.actions import validate_payload
from breeze.commands.delivery import redact
from breeze.commands.schemas import CommandOut, redact_payload
from breeze.core.errors import InvalidInput
from breeze.settings import CommandSettings, Settings


def _settings(**commands: int) -> Settings:
    return Settings(commands=CommandSettings(**commands))  # type: ignore[arg-type]


def test_a_script_gets_the_servers_output_cap_and_the_asked_timeout() -> None:
    body = validate_payload(
        "script",
        {"language": "bash", "content": "true"},
        _settings(max_output_bytes=4096),
        timeout_seconds=42,
    )
    assert body["max_output_bytes"] == 4096 and body["timeout_seconds"] == 42
    # A smaller cap asked for is kept; a larger one is lowered to the server's.
    small = {"language": "sh", "content": "true", "max_output_bytes": 2048}
    assert validate_payload("script", small, _settings(), None)["max_output_bytes"] == 2048
    big = {"language": "sh", "content": "true", "max_output_bytes": 10**6}
    assert validate_payload("script", big, _settings(), None)["max_output_bytes"] == 65_536


@pytest.mark.parametrize(
    ("type", "payload", "field"),
    [
        ("script", {"language": "bash"}, "payload.content"),
        ("script", {"language": "bash", "content": "x", "env": {"A": 1}}, "payload.env.A"),
        ("reboot", {"delay_seconds": -1}, "payload.delay_seconds"),
        ("update_agent", {"version": "1"}, "payload.url"),
        ("nope", {}, "type"),
        ("shutdown", {"message": "a\x00b"}, "payload"),
    ],
)
def test_bad_payloads_name_the_field(type: str, payload: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_payload(type, payload, _settings(), None)
    assert field in [p.field for p in caught.value.problems]


def test_redaction_masks_every_secret_and_drops_nul() -> None:
    assert (
        redact("a=sekrit-long b=sekrit\x00", ["sekrit-long", "sekrit"]) == "a=******** b=********"
    )
    assert redact(None, ["x"]) is None
    payload = {"env": {"A": "1", "B": "2"}, "content": "x"}
    assert redact_payload(payload, ["B"]) == {"env": {"A": "1", "B": "********"}, "content": "x"}
    assert redact_payload(payload, []) is payload


def test_a_command_answer_never_carries_a_secret_value() -> None:
    data = {**_complete(), "payload": {"env": {"TOKEN": "s3cret"}}, "secret_names": ["TOKEN"]}
    assert CommandOut.model_validate(data).payload == {"env": {"TOKEN": "********"}}


def _complete() -> dict[str, object]:
    import uuid
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    ident = uuid.uuid4()
    return {
        **dict.fromkeys(CommandOut.model_fields),
        "id": ident,
        "partner_id": ident,
        "org_id": ident,
        "site_id": ident,
        "device_id": ident,
        "type": "script",
        "status": "pending",
        "trigger_type": "manual",
        "created_by_type": "user",
        "timeout_seconds": 1,
        "expires_at": now,
        "delivery_count": 0,
        "stdout_truncated": False,
        "stderr_truncated": False,
        "result_details": {},
        "result_late": False,
        "created_at": now,
        "updated_at": now,
    }
