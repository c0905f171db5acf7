"""Running Alembic migrations from code (the server on start, `breeze migrate`)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from alembic import command
from alembic.config import Config

from breeze.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
# Child tables of partitioned tables are made at run time, not by models.
PARTITION_CHILD = re.compile(r"^device_metrics_(default|d\d{8})$")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic filter: leave run-time partitions out of schema comparison."""
    return not (type_ == "table" and name is not None and PARTITION_CHILD.match(name))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings.resolved_database_url), revision)


async def upgrade_async(settings: Settings) -> None:
    # Alembic's env.py runs its own event loop for the async engine.
    await asyncio.to_thread(upgrade, settings)


def current(settings: Settings) -> None:
    command.current(alembic_config(settings.resolved_database_url), verbose=False)
