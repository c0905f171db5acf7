"""rule_condition (SQL, in a real database) selects exactly the devices rule_matches says.

Devices with hardware, disks, software, OS names, tags, custom fields of every type (and
of the wrong type) and group memberships are stored once in a real SQLite database, or a
new PostgreSQL database when BREEZE_TEST_DATABASE_URL is set; hypothesis then generates
rule trees from value pools that hit that data, and both evaluators must agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

import breeze.db.models  # noqa: F401  (every table)
from breeze.core.errors import InvalidInput
from breeze.db.base import Base
from breeze.devices.models import (
    Device,
    DeviceDisk,
    DeviceHardware,
    DeviceInventorySection,
    DeviceSoftware,
)
from breeze.devices.versions import version_key
from breeze.groups.fields import GB, NUMBER_OPS, TEXT_FIELDS, TEXT_OPS
from breeze.groups.models import DeviceGroup, DeviceGroupMember
from breeze.groups.rules import DeviceFacts, rule_condition, rule_matches, validate_rules
from breeze.tenancy.models import Organization, Partner, Site
from tests.support.databases import backend, new_database

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CUSTOM_TYPES = {
    "env": "text",
    "tier": "select",
    "score": "number",
    "active": "boolean",
    "since": "date",
    "roles": "multiselect",
}
TEXTS = {
    "os_type": ["linux", "windows", "macos"],
    "os_name": ["Windows Server 2022", "Debian GNU/Linux 12", "macOS 14", "ÉCOLE Server"],
    "os_version": ["12", "10.0.20348", "14.5", ""],
    "hostname": ["Web-01", "db-02", "ÉCOLE-3", "web_04", "%odd%"],
    "display_name": ["Front", "back office", None],
    "status": ["online", "offline", "maintenance"],
    "agent_version": ["0.1.0", "0.2.10", "1.0.0"],
}
TAGS = ["prod", "web", "db", "eu west"]
SOFTWARE = ["OpenSSL", "openssl", "curl", "Google Chrome", "xserver-xorg-core", "libssl3"]
VERSIONS = ["3.0.2", "1.1.1w", "3.0", "10.2", "", None, "3.10.0", "2:1.0-1"]
CUSTOM_VALUES: list[Any] = [
    "prod",
    "Dev",
    "PROD",
    5,
    7.5,
    0,
    True,
    False,
    "2024-01-02",
    "2023-12-31",
    ["web", "db"],
    ["db"],
    [1, "web"],
    [],
    None,
]


@dataclass
class World:
    engine: AsyncEngine
    loop: asyncio.AbstractEventLoop
    org_id: uuid.UUID
    sites: list[uuid.UUID]
    groups: list[uuid.UUID]
    facts: list[DeviceFacts]

    def sql_ids(self, rules: dict[str, Any]) -> set[uuid.UUID]:
        async def run() -> set[uuid.UUID]:
            async with AsyncSession(self.engine) as s:
                stmt = select(Device.id).where(
                    Device.org_id == self.org_id, rule_condition(rules, now=NOW)
                )
                return set((await s.execute(stmt)).scalars())

        return self.loop.run_until_complete(run())


def _facts(rng: random.Random, sites: list[uuid.UUID], groups: list[uuid.UUID]) -> DeviceFacts:
    def pick(values: list[Any]) -> Any:
        return rng.choice(values)

    has_hw = rng.random() < 0.8
    return DeviceFacts(
        id=uuid.uuid4(),
        os_type=pick(TEXTS["os_type"]),
        os_version=pick(TEXTS["os_version"]),
        os_name=pick(TEXTS["os_name"]) if rng.random() < 0.7 else None,
        hostname=pick(TEXTS["hostname"]),
        display_name=pick(TEXTS["display_name"]),
        site_id=pick(sites),
        status=pick(TEXTS["status"]),
        tags=rng.sample(TAGS, rng.randint(0, 3)),
        agent_version=pick(TEXTS["agent_version"]),
        last_seen_at=NOW - timedelta(days=rng.uniform(0, 20)) if rng.random() < 0.85 else None,
        ram_total_mb=pick([2048, 4096, 16384, None]) if has_hw else None,
        cpu_cores=pick([2, 4, 8, None]) if has_hw else None,
        disks=[
            (m, pick([0, 5 * GB, 10 * GB + 1, 50 * GB, 200 * GB, None]))
            for m in rng.sample(["/", "/data", "C:\\"], rng.randint(0, 3))
        ],
        software=[
            (name, version_key(pick(VERSIONS))) for name in rng.sample(SOFTWARE, rng.randint(0, 4))
        ],
        custom_fields={
            k: pick(CUSTOM_VALUES) for k in rng.sample(sorted(CUSTOM_TYPES), rng.randint(0, 5))
        },
        group_ids={g for g in groups if rng.random() < 0.4},
    )


async def _store(engine: AsyncEngine, rng: random.Random) -> tuple[Any, ...]:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    partner = Partner(id=uuid.uuid4(), name="P", slug=f"p-{uuid.uuid4().hex[:6]}")
    org = Organization(id=uuid.uuid4(), partner_id=partner.id, name="O", slug="o")
    sites = [
        Site(id=uuid.uuid4(), partner_id=partner.id, org_id=org.id, name=f"S{i}") for i in range(2)
    ]
    groups = [
        DeviceGroup(
            id=uuid.uuid4(), partner_id=partner.id, org_id=org.id, name=f"G{i}", type="static"
        )
        for i in range(2)
    ]
    facts = [_facts(rng, [s.id for s in sites], [g.id for g in groups]) for _ in range(60)]
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        s.add(partner)
        await s.flush()
        s.add(org)
        await s.flush()
        s.add_all([*sites, *groups])
        await s.flush()
        for i, f in enumerate(facts):
            s.add(
                Device(
                    id=f.id,
                    partner_id=partner.id,
                    org_id=org.id,
                    site_id=f.site_id,
                    agent_id=f"agent-{i}-{uuid.uuid4().hex[:6]}",
                    machine_id=f"m-{i}",
                    hostname=f.hostname,
                    display_name=f.display_name,
                    os_type=f.os_type,
                    os_version=f.os_version,
                    agent_version=f.agent_version,
                    status=f.status,
                    last_seen_at=f.last_seen_at,
                    tags=f.tags,
                    custom_fields=f.custom_fields,
                )
            )
        await s.flush()
        for f in facts:
            if f.ram_total_mb is not None or f.cpu_cores is not None or rng.random() < 0.5:
                s.add(
                    DeviceHardware(
                        device_id=f.id, ram_total_mb=f.ram_total_mb, cpu_cores=f.cpu_cores
                    )
                )
            for mount, free in f.disks:
                s.add(DeviceDisk(device_id=f.id, mountpoint=mount, free_bytes=free))
            for name, key in f.software:
                s.add(DeviceSoftware(device_id=f.id, name=name, version=key, version_key=key))
            if f.os_name is not None:
                data = {"name": f.os_name, "os_type": f.os_type}
                digest = hashlib.sha256(repr(data).encode()).hexdigest()
                s.add(DeviceInventorySection(device_id=f.id, section="os", data=data, hash=digest))
            for g in f.group_ids:
                s.add(DeviceGroupMember(group_id=g, device_id=f.id, added_by="manual"))
    return org.id, [x.id for x in sites], [g.id for g in groups], facts


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("rules")
    database = new_database(tmp)
    loop = asyncio.new_event_loop()
    engine = create_async_engine(database.url)
    org_id, sites, groups, facts = loop.run_until_complete(_store(engine, random.Random(20250601)))
    yield World(engine, loop, org_id, sites, groups, facts)
    loop.run_until_complete(engine.dispose())
    loop.close()
    database.drop()


# --- rule strategies -------------------------------------------------------------------------


def _folded_piece(text: str) -> st.SearchStrategy[str]:
    return st.integers(0, max(0, len(text) - 1)).flatmap(
        lambda i: st.integers(i, len(text)).map(lambda j: text[i:j])
    )


def _text_leaf(field: str) -> st.SearchStrategy[dict[str, Any]]:
    pool = [v for v in TEXTS[field] if v is not None] + ["WEB", "x"]
    word = st.sampled_from(pool) | st.sampled_from(pool).flatmap(_folded_piece)

    def leaf(op: str) -> st.SearchStrategy[dict[str, Any]]:
        if op == "exists":
            return st.builds(lambda v: {"field": field, "op": op, "value": v}, st.booleans())
        if op in ("in", "not_in"):
            values = st.lists(st.sampled_from(pool), min_size=1, max_size=3)
            return values.map(lambda v: {"field": field, "op": op, "value": v})
        return word.map(lambda v: {"field": field, "op": op, "value": v})

    return st.sampled_from(TEXT_OPS).flatmap(leaf)


def _number_leaf(field: str) -> st.SearchStrategy[dict[str, Any]]:
    pool = {
        "ram_total_mb": [2048, 4096, 4000.5, 16384],
        "cpu_cores": [2, 4, 3, 8],
        "disk_free_gb": [0, 5, 10, 10.5, 50, 200],
    }[field]
    extra = (
        st.sampled_from([{}, {"mountpoint": "/"}, {"mountpoint": "/data"}])
        if field == "disk_free_gb"
        else st.just({})
    )

    def leaf(op: str, more: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        base = {"field": field, "op": op, **more}
        if op == "exists":
            return st.booleans().map(lambda v: {**base, "value": v})
        if op in ("in", "not_in"):
            return st.lists(st.sampled_from(pool), min_size=1, max_size=3).map(
                lambda v: {**base, "value": v}
            )
        return st.sampled_from(pool).map(lambda v: {**base, "value": v})

    return st.tuples(st.sampled_from(NUMBER_OPS), extra).flatmap(lambda t: leaf(*t))


def _software_leaf() -> st.SearchStrategy[dict[str, Any]]:
    name = st.sampled_from([*SOFTWARE, "ssl", "google", "lib"])
    version = st.sampled_from([None, ("gte", "3.0"), (">", "1.1.1"), ("<", "3.10"), ("=", "3.0")])

    def build(op: str, n: str, match: str, v: Any) -> dict[str, Any]:
        leaf = {"field": "software", "op": op, "name": n, "name_match": match}
        if v is not None:
            leaf.update(version_op=v[0], version=v[1])
        return leaf

    return st.builds(
        build,
        st.sampled_from(["installed", "not_installed"]),
        name,
        st.sampled_from(["eq", "contains", "starts_with"]),
        version,
    )


def _custom_leaf() -> st.SearchStrategy[dict[str, Any]]:
    def by_key(key: str) -> st.SearchStrategy[dict[str, Any]]:
        field = f"custom.{key}"
        kind = CUSTOM_TYPES[key]
        pools: dict[str, tuple[list[str], list[Any]]] = {
            "text": (list(TEXT_OPS), ["prod", "dev", "pro", "x"]),
            "select": (list(TEXT_OPS), ["prod", "dev"]),
            "number": (list(NUMBER_OPS), [0, 5, 7.5, 6]),
            "boolean": (["eq", "ne", "exists"], [True, False]),
            "date": (
                ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists"],
                ["2024-01-02", "2023-12-31", "2024-01-01"],
            ),
            "multiselect": (["contains", "in", "not_in", "exists"], ["web", "db", "x"]),
        }
        ops, values = pools[kind]

        def leaf(op: str) -> st.SearchStrategy[dict[str, Any]]:
            if op == "exists":
                return st.booleans().map(lambda v: {"field": field, "op": op, "value": v})
            if op in ("in", "not_in"):
                return st.lists(st.sampled_from(values), min_size=1, max_size=3).map(
                    lambda v: {"field": field, "op": op, "value": v}
                )
            return st.sampled_from(values).map(lambda v: {"field": field, "op": op, "value": v})

        return st.sampled_from(ops).flatmap(leaf)

    return st.sampled_from(sorted(CUSTOM_TYPES)).flatmap(by_key)


def _leaves(world: World) -> st.SearchStrategy[dict[str, Any]]:
    ids = st.sampled_from([str(s) for s in world.sites])
    groups = st.sampled_from([str(g) for g in world.groups])

    def id_leaf(field: str, pool: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
        return st.one_of(
            st.builds(
                lambda op, v: {"field": field, "op": op, "value": v},
                st.sampled_from(["eq", "ne"]),
                pool,
            ),
            st.builds(
                lambda op, v: {"field": field, "op": op, "value": v},
                st.sampled_from(["in", "not_in"]),
                st.lists(pool, min_size=1, max_size=2),
            ),
        )

    tags = st.one_of(
        st.builds(lambda v: {"field": "tags", "op": "contains", "value": v}, st.sampled_from(TAGS)),
        st.builds(
            lambda op, v: {"field": "tags", "op": op, "value": v},
            st.sampled_from(["in", "not_in"]),
            st.lists(st.sampled_from([*TAGS, "EU  West"]), min_size=1, max_size=2),
        ),
        st.builds(lambda v: {"field": "tags", "op": "exists", "value": v}, st.booleans()),
    )
    seen = st.one_of(
        st.builds(
            lambda op, v: {"field": "last_seen_at", "op": op, "value": v},
            st.sampled_from(["older_than_days", "newer_than_days"]),
            st.sampled_from([0, 1, 7, 7.5, 14, 30]),
        ),
        st.builds(lambda v: {"field": "last_seen_at", "op": "exists", "value": v}, st.booleans()),
    )
    return st.one_of(
        *[_text_leaf(f) for f in TEXT_FIELDS],
        *[_number_leaf(f) for f in ("ram_total_mb", "cpu_cores", "disk_free_gb")],
        id_leaf("site_id", ids),
        id_leaf("group", groups),
        tags,
        seen,
        _software_leaf(),
        _custom_leaf(),
    )


def _rules(world: World) -> st.SearchStrategy[dict[str, Any]]:
    tree = st.recursive(
        _leaves(world),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda xs: {"all": xs}),
            st.lists(inner, max_size=3).map(lambda xs: {"any": xs}),
            inner.map(lambda x: {"not": x}),
        ),
        max_leaves=6,
    )
    return tree


@settings(
    max_examples=300 if backend() == "sqlite" else 150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_sql_and_python_agree(world: World, data: st.DataObject) -> None:
    raw = data.draw(_rules(world))
    try:
        rules = validate_rules(raw, custom_types=CUSTOM_TYPES)
    except InvalidInput:
        assume(False)
        raise
    expected = {f.id for f in world.facts if rule_matches(rules, f, now=NOW)}
    assert world.sql_ids(rules) == expected, rules


def test_the_data_is_varied(world: World) -> None:
    """Guard against a vacuous property: common rules split the devices."""
    for raw in (
        {"field": "hostname", "op": "contains", "value": "web"},
        {
            "field": "software",
            "op": "installed",
            "name": "openssl",
            "version_op": ">=",
            "version": "3.0",
        },
        {"field": "custom.roles", "op": "contains", "value": "web"},
        {"field": "custom.score", "op": "gt", "value": 1},
        {"field": "disk_free_gb", "op": "lt", "value": 10},
        {"field": "last_seen_at", "op": "older_than_days", "value": 7},
    ):
        rules = validate_rules({"all": [raw]}, custom_types=CUSTOM_TYPES)
        matched = world.sql_ids(rules)
        assert 0 < len(matched) < len(world.facts), raw
        assert matched == {f.id for f in world.facts if rule_matches(rules, f, now=NOW)}


def _every_leaf(world: World) -> list[dict[str, Any]]:
    """Each field with each operator and a few values: small enough to try them all."""
    leaves: list[dict[str, Any]] = []
    for f in TEXT_FIELDS:
        values = [*[v for v in TEXTS[f] if v is not None][:2], "e"]
        for op in TEXT_OPS:
            if op == "exists":
                leaves += [{"field": f, "op": op, "value": b} for b in (True, False)]
            elif op in ("in", "not_in"):
                leaves.append({"field": f, "op": op, "value": values})
            else:
                leaves += [{"field": f, "op": op, "value": v} for v in values]
    for f, pool in (("ram_total_mb", [4096]), ("cpu_cores", [4]), ("disk_free_gb", [10])):
        for op in NUMBER_OPS:
            value: Any = (op == "exists") or (pool if op in ("in", "not_in") else pool[0])
            leaves.append({"field": f, "op": op, "value": value})
            if f == "disk_free_gb":
                leaves.append({"field": f, "op": op, "value": value, "mountpoint": "/"})
    for op in ("eq", "ne", "in", "not_in"):
        for f, ids in (("site_id", world.sites), ("group", world.groups)):
            leaves.append({"field": f, "op": op, "value": [str(i) for i in ids[:1]]})
            leaves[-1]["value"] = leaves[-1]["value"] if op.endswith("in") else str(ids[0])
    for op, v in (("contains", "web"), ("in", ["db", "x"]), ("not_in", ["db"])):
        leaves.append({"field": "tags", "op": op, "value": v})
    leaves += [{"field": "tags", "op": "exists", "value": b} for b in (True, False)]
    for op in ("older_than_days", "newer_than_days"):
        leaves.append({"field": "last_seen_at", "op": op, "value": 7})
    leaves += [{"field": "last_seen_at", "op": "exists", "value": b} for b in (True, False)]
    for op in ("installed", "not_installed"):
        leaves.append({"field": "software", "op": op, "name": "openssl"})
        leaves.append(
            {
                "field": "software",
                "op": op,
                "name": "ssl",
                "name_match": "contains",
                "version_op": "<",
                "version": "3.0.1",
            }
        )
    custom_values = {
        "env": "prod",
        "tier": "dev",
        "score": 5,
        "active": True,
        "since": "2024-01-01",
        "roles": "web",
    }
    from breeze.groups.fields import CUSTOM_KIND, OPS

    for key, kind in CUSTOM_TYPES.items():
        for op in OPS[CUSTOM_KIND[kind]]:
            v: Any = custom_values[key]
            if op == "exists":
                leaves += [{"field": f"custom.{key}", "op": op, "value": b} for b in (True, False)]
                continue
            if op in ("in", "not_in"):
                v = [v]
            leaves.append({"field": f"custom.{key}", "op": op, "value": v})
    return leaves


def test_every_leaf_and_its_negation(world: World) -> None:
    for leaf in _every_leaf(world):
        for raw in (leaf, {"not": leaf}):
            rules = validate_rules(raw, custom_types=CUSTOM_TYPES)
            expected = {f.id for f in world.facts if rule_matches(rules, f, now=NOW)}
            assert world.sql_ids(rules) == expected, rules
