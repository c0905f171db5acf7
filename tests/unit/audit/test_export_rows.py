"""Export in batches by seq, with tenancy, and its CSV / JSON encodings."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from breeze.audit.api import _csv, _json
from breeze.audit.errors import BadActionFilter, ExportForbidden
from breeze.audit.models import AuditLog
from breeze.audit.queries import AuditFilters, export_rows
from breeze.audit.schemas import EXPORT_COLUMNS
from breeze.core.pagination import ListParams
from breeze.core.principal import SYSTEM, Actor, OrgGrant, Principal
from tests.unit.audit.conftest import ORG, PARTNER, ROWS

NO_FILTERS = AuditFilters()


def _params(**filters: list[Any]) -> ListParams:
    return ListParams(page=1, per_page=50, sort=None, q=None, filters=dict(filters))


def _member(*permissions: str) -> Principal:
    grant = OrgGrant(partner_id=PARTNER, org_id=ORG, permissions=frozenset(permissions))
    actor = Actor(type="user", id=uuid.uuid4(), email="m@example.com")
    return Principal(actor=actor, user_id=actor.id, org_grants=(grant,))


async def _collect(batches: AsyncIterator[list[AuditLog]]) -> list[list[AuditLog]]:
    return [batch async for batch in batches]


@pytest.mark.parametrize(("batch_size", "sizes"), [(5, [5, 5, 2]), (4, [4, 4, 4]), (100, [12])])
async def test_batches_walk_every_row_in_seq_order(
    engine: AsyncEngine, batch_size: int, sizes: list[int]
) -> None:
    batches = await _collect(
        export_rows(
            lambda: AsyncSession(engine), SYSTEM, _params(), NO_FILTERS, batch_size=batch_size
        )
    )
    assert [len(b) for b in batches] == sizes
    assert [r.seq for b in batches for r in b] == list(range(1, ROWS + 1))


async def test_filters_and_tenancy_apply(engine: AsyncEngine) -> None:
    def run(principal: Principal, params: ListParams, filters: AuditFilters) -> Any:
        return _collect(
            export_rows(lambda: AsyncSession(engine), principal, params, filters, batch_size=2)
        )

    only_org = [r.seq for b in await run(SYSTEM, _params(org_id=[ORG]), NO_FILTERS) for r in b]
    assert only_org == [2, 4, 6, 8, 10, 12]
    member = _member("audit:read", "audit:export")
    assert [r.seq for b in await run(member, _params(), NO_FILTERS) for r in b] == only_org
    with pytest.raises(BadActionFilter):
        AuditFilters.parse("test.step1,test.step1*", None, None)
    prefix = AuditFilters.parse("test.step1,nothing.*", None, None)
    assert [r.action for b in await run(SYSTEM, _params(), prefix) for r in b] == ["test.step1"]
    with pytest.raises(ExportForbidden):
        await run(_member("audit:read"), _params(), NO_FILTERS)


async def test_csv_and_json_encodings_round_trip(engine: AsyncEngine) -> None:
    def batches() -> AsyncIterator[list[AuditLog]]:
        return export_rows(
            lambda: AsyncSession(engine), SYSTEM, _params(), NO_FILTERS, batch_size=5
        )

    text = "".join([chunk async for chunk in _json(batches())])
    rows = json.loads(text)
    assert [r["seq"] for r in rows] == list(range(1, ROWS + 1))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert rows[3]["resource_name"] == "=SUM(A1)"  # JSON keeps values as they are

    text = "".join([chunk async for chunk in _csv(batches())])
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == ROWS
    for got, want in zip(parsed, rows, strict=True):
        assert json.loads(got["details"]) == want["details"]
        assert got["id"] == want["id"]
        assert got["timestamp"] == want["timestamp"]
        assert got["org_id"] == (want["org_id"] or "")
    assert parsed[3]["resource_name"] == "'=SUM(A1)"  # defused for spreadsheets
