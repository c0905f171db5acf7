"""``breeze-agent`` command line.

``breeze-agent collect --json`` prints exactly what the agent would send: the inventory
(PUT /api/v1/agents/{id}/inventory) and one metrics sample (the heartbeat's ``metrics``).
"""

from __future__ import annotations

import json
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
