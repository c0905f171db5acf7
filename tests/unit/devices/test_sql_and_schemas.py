"""The JSON-array contains seam on both dialects, and PATCH body normalisation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import JSON, Column, MetaData, String, Table, create_engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from breeze.devices.schemas import DeviceUpdate
from breeze.devices.sql import json_array_contains

meta = MetaData()
things = Table("things", meta, Column("name", String), Column("tags", JSON))


def test_compiles_per_dialect_with_one_bound_parameter() -> None:
    cond = json_array_contains(things.c.tags, "prod")
    pg = str(cond.compile(dialect=postgresql.dialect()))
    assert (
        pg.startswith("(things.tags @> jsonb_build_array(CAST(%(param_1)s") and "param_2" not in pg
    )
    lite = str(cond.compile(dialect=sqlite.dialect()))
    assert "json_each(things.tags)" in lite and "json_each.value = ?" in lite


def test_runs_on_sqlite() -> None:
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(things),
            [
                {"name": "a", "tags": ["prod", "web"]},
                {"name": "b", "tags": ["dev"]},
                {"name": "c", "tags": []},
            ],
        )
        for tag, names in (("prod", ["a"]), ("dev", ["b"]), ("pro", [])):
            stmt = select(things.c.name).where(json_array_contains(things.c.tags, tag))
            assert list(conn.execute(stmt).scalars()) == names


def test_tags_are_normalised() -> None:
    body = DeviceUpdate.model_validate({"tags": [" Prod ", "prod", "Web\t  Server", "DB"]})
    assert body.tags == ["prod", "web server", "db"]


@pytest.mark.parametrize(
    ("tags", "where"),
    [
        (["x" * 51], ("tags", 0)),
        (["a", "b,c"], ("tags", 1)),
        (["  "], ("tags", 0)),
        (["t"] * 51, ("tags",)),
    ],
)
def test_bad_tags_name_their_position(tags: list[str], where: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError) as exc:
        DeviceUpdate.model_validate({"tags": tags})
    assert exc.value.errors()[0]["loc"] == where
