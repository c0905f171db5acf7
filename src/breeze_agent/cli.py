"""``breeze-agent`` command line.

``enroll`` joins a server, ``run`` is the service loop, ``status`` shows the enrollment.
``breeze-agent collect --json`` prints exactly what the agent would send: the inventory
(PUT /api/v1/agents/{id}/inventory) and one metrics sample (the heartbeat's ``metrics``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from breeze_agent import __version__
from breeze_agent.collectors import SECTIONS, collect_report, declared_fields
from breeze_protocol import PROTOCOL_VERSION

app = typer.Typer(
    name="breeze-agent",
    help="Breeze RMM agent.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
# Run the service in the ``run`` process itself: no supervisor, so no self-update.
ENV_NO_SUPERVISOR = "BREEZE_AGENT_NO_SUPERVISOR"

SectionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--section",
        "-s",
        help=f"Only this section (repeatable): {', '.join(SECTIONS)}.",
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"breeze-agent {__version__} (protocol {PROTOCOL_VERSION})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Breeze RMM agent."""


def _check_sections(sections: list[str] | None) -> list[str] | None:
    for name in sections or []:
        if name not in SECTIONS:
            raise typer.BadParameter(
                f"unknown section {name!r}; choose from {', '.join(SECTIONS)}",
                param_hint="--section",
            )
    return sections or None


def _summary_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """One row per field; a null field shows why it is null."""
    reasons = data.get("unavailable") or {}
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        if key == "unavailable":
            continue
        if isinstance(value, list):
            text = f"{len(value)} item(s)"
        elif isinstance(value, dict):
            text = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        else:
            text = "-" if value is None else str(value)
        text = escape(text)  # values are data, not rich markup
        if key in reasons:
            text = f"{text} [dim]({escape(str(reasons[key]))})[/dim]"
        rows.append((key, text))
    return rows


@app.command()
def collect(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON the agent would send.")
    ] = False,
    section: SectionOption = None,
    cpu_interval: Annotated[
        float, typer.Option(min=0.0, help="Seconds over which CPU use is measured.")
    ] = 1.0,
) -> None:
    """Collect inventory and metrics from this machine and print them."""
    report = collect_report(_check_sections(section), cpu_interval=cpu_interval)
    if as_json:
        typer.echo(report.model_dump_json(indent=2, exclude_none=False))
        return
    parts: dict[str, Any] = report.inventory.model_dump(mode="json")
    if report.metrics is not None:
        parts["metrics"] = report.metrics.model_dump(mode="json")
    for name in SECTIONS:
        data = parts.get(name)
        if not isinstance(data, dict):
            continue
        table = Table(title=name, show_header=False, title_justify="left")
        for key, text in _summary_rows(data):
            table.add_row(key, text)
        console.print(table)
    for name, error in {**report.inventory.errors, **report.errors}.items():
        console.print(f"[red]{name} failed:[/red] {error}")


@app.command()
def fields(
    section: SectionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List what each collector reports, with units."""
    names = _check_sections(section) or list(SECTIONS)
    out = {
        name: {
            f.name: {"unit": f.unit, "type": f.type, "description": f.description}
            for f in declared_fields(name).values()
        }
        for name in names
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    for name, specs in out.items():
        table = Table("field", "unit", "description", title=name, title_justify="left")
        for field_name, spec in specs.items():
            table.add_row(field_name, spec["unit"] or "", escape(spec["description"] or ""))
        console.print(table)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $BREEZE_AGENT_CONFIG, /etc/breeze-agent/agent.json as "
        "root, else ~/.config/breeze-agent/agent.json).",
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def enroll(
    server: Annotated[str, typer.Option(help="Server URL, e.g. https://rmm.example.com")],
    key: Annotated[
        str,
        typer.Option(
            envvar="BREEZE_AGENT_KEY",
            show_envvar=True,
            help="Enrollment key from the console (or $BREEZE_AGENT_KEY, kept out of ps).",
        ),
    ],
    config: ConfigOption = None,
    insecure: Annotated[
        bool, typer.Option(help="Allow plain http:// to a non-loopback server.")
    ] = False,
    ca_cert: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="CA certificate (PEM) that signed the server's cert."
        ),
    ] = None,
) -> None:
    """Enroll this machine with a Breeze server and write the agent's config file."""
    from breeze_agent.config import ConfigError, resolve_config_path
    from breeze_agent.enroll import enroll as do_enroll
    from breeze_agent.transport import Refused, TransportError

    _setup_logging("warning")
    path = resolve_config_path(config)
    try:
        result = asyncio.run(
            do_enroll(
                server_url=server,
                key=key,
                config_path=path,
                insecure=insecure,
                ca_cert=str(ca_cert.resolve()) if ca_cert else None,
            )
        )
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    except Refused as exc:
        raise _fail(f"the server refused the enrollment ({exc.status}): {exc.detail}") from None
    except (TransportError, OSError) as exc:
        raise _fail(f"enrollment failed: {exc}") from None
    cfg = result.config
    console.print(f"enrolled: agent [bold]{cfg.agent_id}[/bold], device {cfg.device_id}")
    console.print(f"config written to {path} (mode 0600)")
    if result.inventory_sent:
        console.print("full inventory sent")
    else:
        console.print(f"[yellow]first inventory not sent yet:[/yellow] {result.inventory_error}")


@app.command()
def run(
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    child: Annotated[
        bool, typer.Option("--child", hidden=True, help="Run the service in this process.")
    ] = False,
) -> None:
    """Run the agent: heartbeats with metrics, inventory deltas, commands; stops on
    SIGTERM/SIGINT. A small supervisor process runs the service as its child so that an
    update_agent command can restart it on a new version (and roll back a bad one)."""
    import os

    from breeze_agent.config import (
        ConfigError,
        effective_intervals,
        load_config,
        resolve_config_path,
    )
    from breeze_agent.service import EXIT_NOT_ENROLLED, Service
    from breeze_agent.transport import verify_setting

    _setup_logging(log_level)
    path = resolve_config_path(config)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        raise _fail(str(exc), EXIT_NOT_ENROLLED) from None
    try:
        effective_intervals(cfg)  # a bad override is a usage error, not a crash later
        verify_setting(cfg.ca_cert)
    except (ConfigError, OSError) as exc:
        raise _fail(str(exc), 2) from None
    if not child and os.environ.get(ENV_NO_SUPERVISOR, "") not in ("1", "true", "yes"):
        from breeze_agent.supervisor import supervise

        args = ["--config", str(path.resolve()), "--log-level", log_level]
        raise typer.Exit(supervise(path, args))
    service = Service(path, cfg)
    code = asyncio.run(service.run())
    raise typer.Exit(code)


@app.command()
def status(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show the enrollment (server, agent and device ids) and the last heartbeat's result."""
    from breeze_agent.config import ConfigError, load_config, resolve_config_path, state_path
    from breeze_agent.service import EXIT_NOT_ENROLLED
    from breeze_agent.state import load_state

    path = resolve_config_path(config)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        raise _fail(str(exc), EXIT_NOT_ENROLLED) from None
    state = load_state(state_path(path))
    info: dict[str, Any] = {
        "config": str(path),
        **cfg.redacted(),
        **state.model_dump(mode="json", exclude={"section_hashes"}),
        **_update_info(path),
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    table = Table(show_header=False, title="breeze-agent", title_justify="left")
    for key, value in info.items():
        table.add_row(key, escape("-" if value is None else str(value)))
    console.print(table)


def _update_info(config_path: Path) -> dict[str, Any]:
    """The version ``run`` starts (an update may have activated one) and the last update."""
    from breeze_agent.supervisor import Supervisor
    from breeze_agent.update import load_pending

    supervisor = Supervisor(config_path, [])
    info: dict[str, Any] = {
        "agent_version": supervisor.active_version() or __version__,
        "installed_version": __version__,
    }
    pending = load_pending(supervisor.home)
    if pending is not None:
        info["last_update"] = pending.model_dump(
            mode="json", include={"to_version", "from_version", "state", "reason"}
        )
    return info


def _setup_logging(level: str) -> None:
    if level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise typer.BadParameter("choose debug, info, warning or error", param_hint="--log-level")
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore"):  # one INFO line per request otherwise
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
