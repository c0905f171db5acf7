"""Targeting at scale: dynamic group evaluation, the device list and the fleet software
list over 50,000 devices in PostgreSQL.

    python -m bench.groups_bench [--devices 50000] [--software-fraction 0.2]
                                 [--packages 300] [--runs 20] [--out bench/results]

It creates a scratch database (dropped at the end unless --keep), migrates it, bulk-loads
devices with hardware, disks, custom fields, tags and, for a fraction of them, a few
hundred installed packages (COPY, not the API), ANALYZEs, then times the queries the API
runs (the same query functions, called directly). Figures are p50/p95 over --runs runs of
warm queries. Writes groups-<timestamp>.json and .md under --out and prints a summary.
See bench/groups_README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import func, insert, literal, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.harness import create_database, drop_database, pg_admin_url, pg_connect, pg_reachable
from breeze.core.pagination import ListParams
from breeze.core.principal import Actor, PartnerGrant, Principal
from breeze.db.migrate import alembic_config
from breeze.devices.models import Device, DeviceSoftware
from breeze.devices.versions import version_key

ORGS = 5
SITES_PER_ORG = 4
COMMON_PACKAGES = 100  # installed on nearly every device that has software
CATALOG = 3000  # names in the long tail
TAGS = ("server", "laptop", "kiosk", "finance", "dev", "vip", "lab", "remote")
TIERS = ("gold", "silver", "bronze")
# A realistic dynamic group: powerful Windows machines seen this week that are gold tier or
# run an old build of a common package.
RULE: dict[str, Any] = {
    "all": [
        {"field": "os_type", "op": "eq", "value": "windows"},
        {"field": "ram_total_mb", "op": "gte", "value": 16384},
        {"field": "last_seen_at", "op": "newer_than_days", "value": 7},
        {
            "any": [
                {"field": "custom.tier", "op": "eq", "value": "gold"},
                {
                    "field": "software",
                    "op": "installed",
                    "name": "common-pkg-007",
                    "version_op": "<",
                    "version": "2.10",
                },
            ]
        },
        {"not": {"field": "tags", "op": "contains", "value": "kiosk"}},
    ]
}
# Indexes under consideration, created with --proposed-indexes to compare the figures.
PROPOSED_INDEXES = (
    "CREATE INDEX ix_device_software_name_device_version"
    " ON device_software (name, device_id, version)",
)
CUSTOM_TYPES = {"tier": "select", "owner": "text", "warranty_end": "date", "patched": "boolean"}


def _timer() -> float:
    return time.perf_counter()


# --- seeding ----------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value)


async def seed(
    url: str, devices: int, fraction: float, packages: int, extra_indexes: list[str]
) -> dict[str, Any]:
    """Bulk-load the fleet; answers the scale actually loaded and how long it took."""
    rnd = random.Random(5)
    now = datetime.now(UTC)
    conn = await pg_connect(url.replace("+asyncpg", ""))
    started = _timer()
    counts: dict[str, int] = {}
    try:
        partner = uuid.uuid4()
        await conn.execute(
            "INSERT INTO partners (id, name, slug, type, plan, settings, sso_config, created_at,"
            " updated_at) VALUES ($1, 'Bench MSP', 'bench-msp', 'msp', 'free', '{}', '{}', $2, $2)",
            partner,
            now,
        )
        orgs, sites = [], []
        for i in range(ORGS):
            org = uuid.uuid4()
            orgs.append(org)
            await conn.execute(
                "INSERT INTO organizations (id, partner_id, name, slug, type, status, settings,"
                " sso_config, billing_contact, created_at, updated_at) VALUES ($1, $2, $3, $4,"
                " 'customer', 'active', '{}', '{}', '{}', $5, $5)",
                org,
                partner,
                f"Org {i}",
                f"org-{i}",
                now,
            )
            for j in range(SITES_PER_ORG):
                site = uuid.uuid4()
                sites.append((org, site))
                await conn.execute(
                    "INSERT INTO sites (id, partner_id, org_id, name, address, timezone, contact,"
                    " settings, created_at, updated_at) VALUES ($1, $2, $3, $4, '{}', 'UTC',"
                    " '{}', '{}', $5, $5)",
                    site,
                    partner,
                    org,
                    f"Site {i}.{j}",
                    now,
                )
        fields = [
            (
                uuid.uuid4(), partner, org, key, key.title(), "", kind,
                _json(list(TIERS) if kind == "select" else []), False, None, now, now,
            )
            for org in orgs
            for key, kind in CUSTOM_TYPES.items()
        ]  # fmt: skip
        await conn.copy_records_to_table(
            "custom_fields",
            records=fields,
            columns=[
                "id", "partner_id", "org_id", "key", "name", "description", "type", "options",
                "required", "default_value", "created_at", "updated_at",
            ],
        )  # fmt: skip
        device_rows, hardware, disks, ids = [], [], [], []
        for n in range(devices):
            org, site = sites[n % len(sites)]
            os_type = rnd.choices(("windows", "linux", "macos"), (6, 3, 1))[0]
            device_id = uuid.uuid4()
            ids.append(device_id)
            custom: dict[str, Any] = {"tier": rnd.choice(TIERS), "owner": f"user{n % 997}"}
            if rnd.random() < 0.5:
                custom["patched"] = rnd.random() < 0.7
            if rnd.random() < 0.3:
                custom["warranty_end"] = (
                    (now + timedelta(days=rnd.randint(-400, 900))).date().isoformat()
                )
            tags = rnd.sample(TAGS, rnd.randint(0, 3))
            seen = now - timedelta(minutes=rnd.randint(0, 60 * 24 * 30))
            device_rows.append(
                (
                    device_id, partner, org, site, f"agent-{n}", f"machine-{n}", f"host-{n:06d}",
                    os_type, "10" if os_type == "windows" else "12", "", "x86_64", "0.1.0",
                    rnd.choices(("online", "offline"), (85, 15))[0], seen, now, _json(tags),
                    _json(custom), False, 60, 1, now, now,
                )
            )  # fmt: skip
            hardware.append(
                (
                    device_id, "Bench CPU", rnd.choice((2, 4, 8, 16)), 8,
                    rnd.choice((4096, 8192, 16384, 32768)), 512.0, now,
                )
            )  # fmt: skip
            for mount in ("/", "/data")[: rnd.randint(1, 2)]:
                total = 512 * 1024**3
                free = rnd.randint(1, 500) * 1024**3
                disks.append(
                    (uuid.uuid4(), device_id, mount, "ext4", total, total - free, free, 50.0, now)
                )
        await conn.copy_records_to_table(
            "devices",
            records=device_rows,
            columns=[
                "id", "partner_id", "org_id", "site_id", "agent_id", "machine_id", "hostname",
                "os_type", "os_version", "os_build", "architecture", "agent_version", "status",
                "last_seen_at", "enrolled_at", "tags", "custom_fields", "pending_reboot",
                "heartbeat_interval_seconds", "config_version", "created_at", "updated_at",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "device_hardware",
            records=hardware,
            columns=[
                "device_id", "cpu_model", "cpu_cores", "cpu_threads", "ram_total_mb",
                "disk_total_gb", "updated_at",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "device_disks",
            records=disks,
            columns=[
                "id", "device_id", "mountpoint", "fstype", "total_bytes", "used_bytes",
                "free_bytes", "percent", "updated_at",
            ],
        )  # fmt: skip
        counts.update(devices=devices, disks=len(disks), custom_fields=len(fields))
        counts["software_rows"] = await _seed_software(conn, rnd, ids, fraction, packages, now)
        counts["devices_with_software"] = int(devices * fraction)
        for statement in extra_indexes:
            await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return {"counts": counts, "seed_seconds": round(_timer() - started, 1), "orgs": orgs}


async def _seed_software(
    conn: Any, rnd: random.Random, ids: list[uuid.UUID], fraction: float, packages: int,
    now: datetime,
) -> int:  # fmt: skip
    versions = {}
    names = [f"common-pkg-{i:03d}" for i in range(COMMON_PACKAGES)]
    names += [f"tail-pkg-{i:04d}" for i in range(CATALOG)]
    for name in names:
        major = rnd.randint(1, 3)
        versions[name] = [f"{major}.{minor}.{rnd.randint(0, 20)}" for minor in range(1, 14)][
            : rnd.randint(1, 6)
        ]
    keys = {v: version_key(v) for vs in versions.values() for v in vs}
    total = 0
    batch: list[tuple[Any, ...]] = []
    columns = [
        "id", "device_id", "name", "version", "version_key", "publisher", "install_date",
        "is_system", "source", "updated_at",
    ]  # fmt: skip
    with_software = ids[: int(len(ids) * fraction)]
    tail = names[COMMON_PACKAGES:]
    for device_id in with_software:
        chosen = names[:COMMON_PACKAGES] + rnd.sample(tail, max(0, packages - COMMON_PACKAGES))
        for name in chosen:
            version = rnd.choice(versions[name])
            batch.append(
                (
                    uuid.uuid4(), device_id, name, version, keys[version],
                    f"Vendor {hash(name) % 50}", (now - timedelta(days=rnd.randint(0, 900))).date(),
                    name.startswith("common"), "dpkg", now,
                )
            )  # fmt: skip
        if len(batch) >= 200_000:
            await conn.copy_records_to_table("device_software", records=batch, columns=columns)
            total += len(batch)
            batch = []
    if batch:
        await conn.copy_records_to_table("device_software", records=batch, columns=columns)
        total += len(batch)
    return total


# --- measuring --------------------------------------------------------------------------


async def timed(runs: int, fn: Callable[[], Awaitable[int]]) -> dict[str, Any]:
    """p50/p95/min/max milliseconds of `fn` over `runs` runs after one warm-up run."""
    rows = await fn()
    samples = []
    for _ in range(runs):
        t0 = _timer()
        rows = await fn()
        samples.append((_timer() - t0) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, max(0, round(0.95 * len(samples)) - 1))]
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(p95, 2),
        "min_ms": round(samples[0], 2),
        "max_ms": round(samples[-1], 2),
        "runs": runs,
        "rows": rows,
    }


def params(
    per_page: int = 50, sort: str | None = None, q: str | None = None, **filters: Any
) -> ListParams:
    return ListParams(
        page=1, per_page=per_page, sort=sort, q=q, filters={k: v for k, v in filters.items()}
    )


def partner_principal(partner_id: uuid.UUID) -> Principal:
    """A partner technician who sees every organization (the usual MSP view)."""
    return Principal(
        actor=Actor(type="user", id=uuid.uuid4(), email="bench@example.com"),
        user_id=uuid.uuid4(),
        partner_grants=(
            PartnerGrant(partner_id=partner_id, permissions=frozenset({"devices:read"})),
        ),
    )


def explain_sql(stmt: Any) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


async def measure(
    url: str, runs: int, orgs: list[uuid.UUID], *, no_jit: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    from breeze.devices import queries as device_queries
    from breeze.software import queries as software_queries

    # --no-jit: PostgreSQL's JIT compiles expensive-looking plans for hundreds of ms.
    settings = {"jit": "off"} if no_jit else {}
    engine = create_async_engine(url, pool_size=2, connect_args={"server_settings": settings})
    figures: dict[str, Any] = {}
    plans: dict[str, str] = {}
    partner = await _scalar(engine, select(Device.partner_id).limit(1))
    who = partner_principal(partner)
    org = orgs[0]

    def session_run(fn: Callable[[AsyncSession], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
        async def go() -> int:
            async with AsyncSession(engine) as s:
                return await fn(s)

        return go

    # (a) dynamic group evaluation
    from breeze.groups.rules import rule_condition, validate_rules

    rules = validate_rules(RULE, custom_types=CUSTOM_TYPES)
    condition = rule_condition(rules, now=datetime.now(UTC))
    live = Device.decommissioned_at.is_(None)
    count_stmt = (
        select(func.count()).select_from(Device).where(live, Device.org_id == org, condition)
    )
    count_all = select(func.count()).select_from(Device).where(live, condition)

    def scalar_count(stmt: Any) -> Callable[[], Awaitable[int]]:
        async def fn(s: AsyncSession) -> int:
            return int((await s.execute(stmt)).scalar_one())

        return session_run(fn)

    figures["group_count_one_org"] = await timed(runs, scalar_count(count_stmt))
    figures["group_count_all_orgs"] = await timed(runs, scalar_count(count_all))
    plans["group_count_all_orgs"] = await _explain(engine, count_all)
    figures["group_membership_insert"] = await timed(
        max(3, runs // 4), session_run(lambda s: _membership(s, org, partner, condition))
    )

    # (b) the device list page
    def device_page(p: ListParams) -> Callable[[], Awaitable[int]]:
        async def fn(s: AsyncSession) -> int:
            _rows, total = await device_queries.list_devices(s, who, p)
            return total

        return session_run(fn)

    figures["device_list_os_status"] = await timed(
        runs, device_page(params(os_type=["windows"], status=["online"]))
    )
    figures["device_list_org_tag_sorted"] = await timed(
        runs,
        device_page(params(sort="-last_seen_at", org_id=[org], tag=["finance"])),
    )
    figures["device_list_search"] = await timed(runs, device_page(params(q="host-0421")))

    # (c) the fleet software list
    def titles(p: ListParams) -> Callable[[], Awaitable[int]]:
        async def fn(s: AsyncSession) -> int:
            _items, total = await software_queries.list_titles(s, who, p)
            return total

        return session_run(fn)

    figures["software_titles_by_name"] = await timed(runs, titles(params()))
    figures["software_titles_by_device_count"] = await timed(
        runs, titles(params(sort="-device_count"))
    )
    figures["software_titles_search_one_org"] = await timed(
        runs, titles(params(q="pkg-00", org_id=[org]))
    )

    async def versions(s: AsyncSession) -> int:
        _items, total = await software_queries.list_versions(s, who, "common-pkg-007", params())
        return total

    async def installs(s: AsyncSession) -> int:
        name = "common-pkg-007"
        _rows, total = await software_queries.list_installs(s, who, name, None, params())
        return total

    figures["software_versions"] = await timed(runs, session_run(versions))
    figures["software_devices"] = await timed(runs, session_run(installs))
    title_stmt = software_queries.installed(
        who, DeviceSoftware.name, software_queries.DEVICE_COUNT
    ).group_by(DeviceSoftware.name)
    plans["software_titles"] = await _explain(engine, title_stmt)
    await engine.dispose()
    return figures, plans


async def _scalar(engine: Any, stmt: Any) -> Any:
    async with AsyncSession(engine) as s:
        return (await s.execute(stmt)).scalar_one()


async def _explain(engine: Any, stmt: Any) -> str:
    async with engine.connect() as conn:
        rows = await conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + explain_sql(stmt)))
        return "\n".join(r[0] for r in rows)


async def _membership(s: AsyncSession, org: uuid.UUID, partner: uuid.UUID, condition: Any) -> int:
    """The full membership write of one dynamic group (INSERT ... SELECT), rolled back."""
    from breeze.groups.models import DeviceGroup, DeviceGroupMember

    group = DeviceGroup(
        id=uuid.uuid4(), partner_id=partner, org_id=org, name=f"bench-{uuid.uuid4().hex[:6]}",
        type="dynamic", rules=RULE,
    )  # fmt: skip
    s.add(group)
    await s.flush()
    now = datetime.now(UTC)
    chosen = select(literal(group.id), Device.id, literal("dynamic_rule"), literal(now)).where(
        Device.decommissioned_at.is_(None), Device.org_id == org, condition
    )
    result = await s.execute(
        insert(DeviceGroupMember).from_select(
            ["group_id", "device_id", "added_by", "added_at"], chosen
        )
    )
    await s.rollback()  # the figure is the write, not a growing table
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- report -----------------------------------------------------------------------------

FIGURES = (
    "group_count_one_org",
    "group_count_all_orgs",
    "group_membership_insert",
    "device_list_os_status",
    "device_list_org_tag_sorted",
    "device_list_search",
    "software_titles_by_name",
    "software_titles_by_device_count",
    "software_titles_search_one_org",
    "software_versions",
    "software_devices",
)


def missing_figures(result: dict[str, Any]) -> list[str]:
    figures = result.get("figures", {})
    return [
        name
        for name in FIGURES
        if not isinstance(figures.get(name), dict)
        or not all(isinstance(figures[name].get(k), int | float) for k in ("p50_ms", "p95_ms"))
    ]


def markdown(result: dict[str, Any]) -> str:
    counts = result["counts"]
    lines = [
        f"# Targeting benchmark, {result['timestamp']}",
        "",
        f"PostgreSQL {result['server_version']}; {counts['devices']} devices "
        f"({counts['devices_with_software']} with software, {counts['software_rows']} software "
        f"rows, {counts['disks']} filesystems); seeded in {result['seed_seconds']} s; "
        f"{result['runs']} warm runs per figure; extra indexes: "
        f"{'; '.join(result['extra_indexes']) or 'none'}; JIT {'on' if result['jit'] else 'off'}.",
        "",
        "| figure | p50 ms | p95 ms | max ms | rows |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in FIGURES:
        f = result["figures"][name]
        lines.append(f"| {name} | {f['p50_ms']} | {f['p95_ms']} | {f['max_ms']} | {f['rows']} |")
    lines += ["", "Rule of the group figures:", "", "```json", json.dumps(RULE, indent=2), "```"]
    for name, plan in result.get("plans", {}).items():
        lines += ["", f"## Plan: {name}", "", "```", plan, "```"]
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    why = await pg_reachable(pg_admin_url())
    if why:
        raise SystemExit(why)
    name, url = await create_database("breeze_groups_bench")
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        extra = list(PROPOSED_INDEXES) if args.proposed_indexes else []
        seeded = await seed(url, args.devices, args.software_fraction, args.packages, extra)
        figures, plans = await measure(url, args.runs, seeded["orgs"], no_jit=args.no_jit)
        conn = await pg_connect(url)
        version = await conn.fetchval("SHOW server_version")
        await conn.close()
    finally:
        if not args.keep:
            await drop_database(name)
    return {
        "timestamp": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "server_version": version,
        "database": name if args.keep else None,
        "counts": seeded["counts"],
        "seed_seconds": seeded["seed_seconds"],
        "runs": args.runs,
        "extra_indexes": extra,
        "jit": not args.no_jit,
        "rule": RULE,
        "figures": figures,
        "plans": plans,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--software-fraction", type=float, default=0.2)
    parser.add_argument("--packages", type=int, default=300, help="per device with software")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--no-jit", action="store_true", help="measure with jit = off")
    parser.add_argument(
        "--proposed-indexes",
        action="store_true",
        help="also create the indexes proposed in groups_README.md (not yet in migrations)",
    )
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"groups-{result['timestamp']}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(f"{result['counts']['devices']} devices, seeded in {result['seed_seconds']} s")
    for name in FIGURES:
        f = result["figures"][name]
        print(f"  {name:34} p50 {f['p50_ms']:>9} ms  p95 {f['p95_ms']:>9} ms  rows {f['rows']}")
    print(f"report: {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
