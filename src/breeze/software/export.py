"""The fleet software export as CSV: streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Row

from breeze.software.schemas import EXPORT_COLUMNS

# Cells a spreadsheet would run as a formula get a leading quote (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _values(row: Row[Any]) -> list[str]:
    return [
        cell(row.device_id),
        cell(row.hostname),
        cell(row.org_id),
        cell(row.site_id),
        cell(row.name),
        cell(row.version),
        cell(row.publisher),
        cell(row.source),
        cell(row.install_date.isoformat() if row.install_date else None),
    ]


async def csv_stream(batches: AsyncIterator[list[Row[Any]]]) -> AsyncIterator[str]:
    """The header, then one chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    async for rows in batches:
        for row in rows:
            writer.writerow(_values(row))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
