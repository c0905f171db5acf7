"""The queue that stores agents' socket reports (`commands.reports.ReportQueue`) in a real
database: reports submitted together are stored in batches and each answered once
committed; a database that cannot be written answers every report 503 (never 204 for
what was not stored); past its limit the queue answers 503 at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

import breeze.db.models  # noqa: F401  (every table)
from breeze.commands.ingest import AckReport, ResultReport
from breeze.commands.models import DeviceCommand
from breeze.commands.reports import ReportQueue, Waiting
from breeze.core.ratelimit import create_limiter
from breeze.core.state import AppState
from breeze.db.base import Base, utcnow
from breeze.db.engine import Database
from breeze.devices.models import Device
from breeze.settings import Settings
from breeze.tenancy.models import Organization, Partner, Site
from breeze_protocol.commands import CommandAck, CommandResult, WsReceipt
from tests.support.databases import backend, new_database


async def _fleet(engine: object, commands: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """One device with `commands` sent script commands; (device id, command ids)."""
    partner = Partner(id=uuid.uuid4(), name="P", slug=f"p-{uuid.uuid4().hex[:6]}")
    org = Organization(id=uuid.uuid4(), partner_id=partner.id, name="O", slug="o")
    site = Site(id=uuid.uuid4(), partner_id=partner.id, org_id=org.id, name="S")
    device = Device(
        id=uuid.uuid4(),
        partner_id=partner.id,
        org_id=org.id,
        site_id=site.id,
        agent_id=f"agt-{uuid.uuid4().hex}",
        machine_id="m",
        hostname="host",
        os_type="linux",
    )
    now = utcnow()
    rows = [
        DeviceCommand(
            id=uuid.uuid4(),
            partner_id=partner.id,
            org_id=org.id,
            site_id=site.id,
            device_id=device.id,
            type="script",
            payload={"language": "bash", "content": "true"},
            status="sent",
            created_by_type="system",
            nonce=uuid.uuid4().hex,
            expires_at=now + timedelta(hours=1),
            sent_at=now,
        )
        for _ in range(commands)
    ]
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():  # type: ignore[arg-type]
        for group in ([partner], [org], [site], [device], rows):
            s.add_all(group)
            await s.flush()
    return device.id, [r.id for r in rows]


def _state(db: Database, tmp_path: Path) -> AppState:
    return AppState(
        settings=Settings(data_dir=tmp_path),
        db=db,
        limiter=create_limiter(None),
        secret="unit-test",
    )


def _unwritable(tmp_path: Path, url: str) -> str:
    if backend() == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'no-such-dir' / 'gone.db'}"
    return url.rsplit("/", 1)[0] + f"/breeze_missing_{uuid.uuid4().hex[:8]}"


async def _submit_all(queue: ReportQueue, items: list[Waiting]) -> list[WsReceipt]:
    """Submit in one loop turn; the receipts, in the order the items were given."""
    answered: dict[int, WsReceipt] = {}
    done = asyncio.Event()

    def replier(index: int) -> object:
        def reply(receipt: WsReceipt) -> None:
            answered[index] = receipt
            if len(answered) == len(items):
                done.set()

        return reply

    for index, item in enumerate(items):
        item.reply = replier(index)  # type: ignore[assignment]
        queue.submit(item)
    await asyncio.wait_for(done.wait(), 30)
    return [answered[i] for i in range(len(items))]


async def _scenario(url: str, tmp_path: Path) -> None:
    engine = create_async_engine(url)
    db = Database(url, engine, engine, is_sqlite=url.startswith("sqlite"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        device_id, ids = await _fleet(engine, 7)
        state = _state(db, tmp_path)

        # A database that cannot be written: every report is answered 503.
        broken_url = _unwritable(tmp_path, url)
        broken_engine = create_async_engine(broken_url)
        broken = Database(broken_url, broken_engine, broken_engine, is_sqlite=db.is_sqlite)
        try:
            queue = ReportQueue(_state(broken, tmp_path), batch=3)
            acks = [Waiting("ack", AckReport(device_id, i, CommandAck()), print) for i in ids]
            assert {r.status for r in await _submit_all(queue, acks)} == {503}
        finally:
            await broken_engine.dispose()

        # The same acks again, a batch of three at a time, with an unknown command among
        # them; then the results.
        queue = ReportQueue(state, batch=3)
        unknown = uuid.uuid4()
        acks = [
            Waiting("ack", AckReport(device_id, i, CommandAck()), print) for i in [*ids, unknown]
        ]
        receipts = await _submit_all(queue, acks)
        assert [r.status for r in receipts] == [204] * len(ids) + [404]
        assert [r.command_id for r in receipts] == [str(i) for i in [*ids, unknown]]
        done = CommandResult(status="completed", exit_code=0, stdout="ok\n")
        results = [Waiting("result", ResultReport(device_id, i, done), print) for i in ids]
        assert {r.status for r in await _submit_all(queue, results)} == {204}
        async with AsyncSession(engine) as s:
            stored = (
                await s.execute(select(DeviceCommand).where(DeviceCommand.id.in_(ids)))
            ).scalars()
            assert {(c.status, c.stdout) for c in stored} == {("completed", "ok\n")}

        # Held (a hand-over in progress): queued, not stored nor answered, until released.
        held = ReportQueue(state)
        later = [Waiting("result", ResultReport(device_id, i, done), print) for i in ids[:3]]
        with held.held():
            waiting = asyncio.create_task(_submit_all(held, later))
            await asyncio.sleep(0.3)
            assert not waiting.done() and len(held) == 3
        assert [r.status for r in await waiting] == [204, 204, 204]
        assert len(held) == 0
        await held.stop()

        # Past its limit the queue answers at once instead of holding more.
        small = ReportQueue(state, limit=2)
        again = [Waiting("result", ResultReport(device_id, i, done), print) for i in ids[:4]]
        assert [r.status for r in await _submit_all(small, again)] == [204, 204, 503, 503]
        await small.stop()
        await queue.stop()
    finally:
        await engine.dispose()


def test_reports_are_stored_in_batches_and_answered_after_commit(tmp_path: Path) -> None:
    database = new_database(tmp_path / "db")
    try:
        asyncio.run(_scenario(database.url, tmp_path))
    finally:
        database.drop()
