"""How fast the device list page and the dashboard's queries are over 50,000 devices in
PostgreSQL (a measurement, not a test: run it by hand).

    .venv/bin/python -m bench.console_bench [--devices 50000] [--runs 10]

It makes a scratch database, migrates it, bulk-loads the fleet the way
bench/groups_bench.py does (no software), adds 250,000 inventory changes and 50,000 script
executions (a tenth failed), ANALYZEs, then times the very query functions the console
calls, as a partner technician who sees every organization. The database is dropped at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.groups_bench import partner_principal, seed, timed
from bench.harness import create_database, drop_database, pg_admin_url, pg_connect, pg_reachable
from breeze.core.pagination import ListParams
from breeze.core.principal import PartnerGrant, Principal
from breeze.dashboard import queries as dashboard
from breeze.db.migrate import alembic_config
from breeze.devices import console_queries as devices
from breeze.devices.console_queries import Place

CHANGES = 250_000
COMMANDS = 50_000


async def _extra_rows(url: str) -> None:
    """Inventory changes and script executions spread over the fleet's last 30 days."""
    rnd = random.Random(7)
    now = datetime.now(UTC)
    conn = await pg_connect(url.replace("+asyncpg", ""))
    try:
        fleet = await conn.fetch("SELECT id, partner_id, org_id, site_id FROM devices")
        changes = [
            (
                uuid.uuid4(), d["partner_id"], d["org_id"], d["id"],
                now - timedelta(minutes=rnd.randint(0, 43_200)), "software",
                rnd.choice(("added", "removed", "updated")), f"pkg-{rnd.randint(0, 999)}",
            )
            for d in (rnd.choice(fleet) for _ in range(CHANGES))
        ]  # fmt: skip
        await conn.copy_records_to_table(
            "device_changes",
            records=changes,
            columns=[
                "id", "partner_id", "org_id", "device_id", "timestamp", "category",
                "change_type", "subject",
            ],
        )  # fmt: skip
        commands = []
        for n in range(COMMANDS):
            d = rnd.choice(fleet)
            when = now - timedelta(minutes=rnd.randint(0, 43_200))
            status = "failed" if n % 10 == 0 else "completed"
            commands.append(
                (
                    uuid.uuid4(), d["partner_id"], d["org_id"], d["site_id"], d["id"], "script",
                    "{}", "[]", status, "manual", "system", uuid.uuid4().hex, 300,
                    when + timedelta(hours=1), 1, False, False, "{}", False, when, when, when,
                    1 if status == "failed" else 0,
                )
            )  # fmt: skip
        await conn.copy_records_to_table(
            "device_commands",
            records=commands,
            columns=[
                "id", "partner_id", "org_id", "site_id", "device_id", "type", "payload",
                "secret_names", "status", "trigger_type", "created_by_type", "nonce",
                "timeout_seconds", "expires_at", "delivery_count", "stdout_truncated",
                "stderr_truncated", "result_details", "result_late", "completed_at",
                "created_at", "updated_at", "exit_code",
            ],
        )  # fmt: skip
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _params(page: int = 1, sort: str | None = None, q: str | None = None, **f: Any) -> ListParams:
    return ListParams(page=page, per_page=50, sort=sort, q=q, filters=dict(f))


async def measure(url: str, runs: int, orgs: list[uuid.UUID]) -> dict[str, Any]:
    engine = create_async_engine(url, pool_size=2)
    async with AsyncSession(engine) as s:
        partner = (await s.execute(text("SELECT id FROM partners LIMIT 1"))).scalar_one()
    tech = partner_principal(partner)
    who = Principal(
        actor=tech.actor,
        user_id=tech.user_id,
        partner_grants=(
            PartnerGrant(partner_id=partner, permissions=frozenset({"devices:read", "audit:read"})),
        ),
    )
    everywhere = Place(partner_id=partner)
    one_org = Place(partner_id=partner, org_id=orgs[0])

    def run(fn: Callable[[AsyncSession], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
        async def go() -> int:
            async with AsyncSession(engine) as s:
                return await fn(s)

        return go

    async def page_of(s: AsyncSession, params: ListParams) -> int:
        _rows, total = await devices.list_devices_with_sites(s, who, params)
        return total

    async def count_only(s: AsyncSession) -> int:
        stmt = text("SELECT count(*) FROM devices WHERE decommissioned_at IS NULL")
        return int((await s.execute(stmt)).scalar_one())

    cases: dict[str, Callable[[AsyncSession], Awaitable[int]]] = {
        "list_first_page": lambda s: page_of(s, _params()),
        "list_page_500_of_1000": lambda s: page_of(s, _params(page=500)),
        "list_last_page": lambda s: page_of(s, _params(page=1000)),
        "list_sorted_by_site": lambda s: page_of(s, _params(sort="site,hostname")),
        "list_sorted_last_seen_desc": lambda s: page_of(s, _params(sort="-last_seen_at")),
        "list_offline_windows": lambda s: page_of(
            s, _params(status=["offline"], os_type=["windows"])
        ),
        "list_one_org_tag": lambda s: page_of(s, _params(org_id=[orgs[0]], tag=["finance"])),
        "list_search": lambda s: page_of(s, _params(q="host-0421")),
        "count_all_plain_sql": count_only,
        "dashboard_devices_all": lambda s: _summary(s, who, everywhere),
        "dashboard_devices_one_org": lambda s: _summary(s, who, one_org),
        "dashboard_changes_all": lambda s: _len(dashboard.recent_changes(s, who, everywhere)),
        "dashboard_changes_one_org": lambda s: _len(dashboard.recent_changes(s, who, one_org)),
        "dashboard_activity_all": lambda s: _len(dashboard.recent_activity(s, who, everywhere)),
        "dashboard_failing_all": lambda s: _failing(s, who, everywhere),
        "dashboard_failing_one_org": lambda s: _failing(s, who, one_org),
    }
    out = {name: await timed(runs, run(fn)) for name, fn in cases.items()}
    await engine.dispose()
    return out


async def _summary(s: AsyncSession, who: Principal, place: Place) -> int:
    return (await dashboard.device_summary(s, who, place)).total


async def _failing(s: AsyncSession, who: Principal, place: Place) -> int:
    return (await dashboard.failing_runs(s, who, place)).last_day


async def _len(rows: Awaitable[list[Any]]) -> int:
    return len(await rows)


async def main(devices_count: int, runs: int) -> dict[str, Any]:
    why = await pg_reachable(pg_admin_url())
    if why:
        raise SystemExit(why)
    name, url = await create_database("breeze_console_scale")
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        seeded = await seed(url, devices_count, 0.0, 0, [])
        await _extra_rows(url)
        return {"devices": devices_count, "figures": await measure(url, runs, seeded["orgs"])}
    finally:
        await drop_database(name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    result = asyncio.run(main(args.devices, args.runs))
    for figure, f in result["figures"].items():
        print(f"{figure:30} p50 {f['p50_ms']:>8} ms  p95 {f['p95_ms']:>8} ms  rows {f['rows']}")
