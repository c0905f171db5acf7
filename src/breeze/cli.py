"""The `breeze` command: server, worker, migrate, admin, audit, demo."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from rich.console import Console

from breeze import __version__
from breeze.settings import Settings, get_settings

app = typer.Typer(help="Breeze RMM server", no_args_is_help=True, add_completion=False)
admin_app = typer.Typer(help="Manage platform administrators", no_args_is_help=True)
audit_app = typer.Typer(help="Audit log tools", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
console = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"breeze {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Breeze RMM."""


def _refuse_unsafe(settings: Settings) -> None:
    if settings.env != "production":
        return
    problems = settings.production_problems()
    if problems:
        for p in problems:
            err.print(f"[red]refusing to start in production:[/red] {p}")
        raise typer.Exit(code=2)


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format='{"ts":"%(asctime)s","level":"%(levelname)s",'
        '"logger":"%(name)s","msg":"%(message)s"}',
    )


@app.command()
def server(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
) -> None:
    """Run the HTTP server (and, in embedded mode, the worker loop)."""
    import uvicorn

    from breeze.app import create_app
    from breeze.ops.gc import tune_for_server
    from breeze.ops.serving import uvicorn_options

    settings = get_settings()
    _refuse_unsafe(settings)
    _logging(settings)
    asgi_app = create_app(settings)
    tune_for_server(settings.server.gc_young_threshold)  # after the app is built
    options = uvicorn_options(settings)
    options.update({k: v for k, v in (("host", host), ("port", port)) if v})
    uvicorn.run(asgi_app, **options)


@app.command()
def worker() -> None:
    """Run the background worker loop alone (scale-out mode)."""
    from breeze.worker_main import run_worker

    settings = get_settings()
    _refuse_unsafe(settings)
    _logging(settings)
    asyncio.run(run_worker(settings))


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest revision."""
    from breeze.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings)
    console.print(f"database at latest revision ({settings.resolved_database_url.split('://')[0]})")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="Email address of the administrator")],
    password: Annotated[
        str,
        typer.Option(
            help="Password (asked when omitted)",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
        ),
    ],
    name: Annotated[str, typer.Option(help="Display name")] = "Administrator",
) -> None:
    """Create a platform administrator (full access to every partner)."""
    from breeze.core.errors import BreezeError
    from breeze.users.bootstrap import create_platform_admin

    settings = get_settings()
    try:
        user_id = asyncio.run(
            create_platform_admin(settings, email=email, password=password, name=name)
        )
    except BreezeError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(code=1) from None
    console.print(f"created platform administrator {email} ({user_id})")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit hash chain; name the first broken link."""
    from breeze.audit.verify import verify_chain_cli

    settings = get_settings()
    ok, message = asyncio.run(verify_chain_cli(settings))
    (console if ok else err).print(message)
    raise typer.Exit(code=0 if ok else 1)


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    agent: Annotated[
        bool,
        typer.Option("--agent/--no-agent", help="Enroll and run an agent for this machine"),
    ] = True,
) -> None:
    """First run: an administrator, a sample tenant and a local agent, then serve."""
    from breeze.demo import enrollment_key, local_server_url, seed, serve

    settings = get_settings()
    _refuse_unsafe(settings)
    result = asyncio.run(seed(settings))
    port = port or settings.server.port
    url = local_server_url(settings.server.host, port)
    if "public_url" not in settings.server.model_fields_set:
        # Emailed links and the install command must point at the port really served.
        settings.server.public_url = url
    console.rule("[bold]Breeze is starting")
    if result.created:
        console.print(
            f"Administrator: [bold]{result.email}[/bold]  password: [bold]{result.password}[/bold]"
        )
        console.print(f"(also saved in {result.credentials_file}, readable only by you)")
    else:
        console.print(
            f"Existing data in {settings.data_dir}; sign in with your account "
            f"(demo credentials, if any: {result.credentials_file})"
        )
    console.print(f"Web console: [bold]{url}/[/bold]")
    console.print(f"API and its documentation: {url}/api/v1/docs")
    console.print(f"Health: {url}/health   Metrics: {url}/metrics")
    if result.org_id is not None:
        key = asyncio.run(enrollment_key(settings, result.org_id))
        public = settings.server.public_url.rstrip("/")
        console.print(
            "Add another machine: "
            f"curl -fsSL {public}/api/v1/agents/install.sh | sudo sh -s -- --key {key}",
            soft_wrap=True,
        )
    if agent:
        console.print(
            "This machine's agent starts once the server is up (its data shows within a minute)."
        )
    _logging(settings)
    serve(
        settings,
        port=port,
        org_id=result.org_id,
        with_agent=agent,
        say=lambda text: console.print(text, soft_wrap=True),
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
