"""Response bodies of the fleet software inventory."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, Field

# Columns of GET /api/v1/software/export, in order.
EXPORT_COLUMNS = (
    "device_id",
    "hostname",
    "org_id",
    "site_id",
    "name",
    "version",
    "publisher",
    "source",
    "install_date",
)


class SoftwareTitleOut(BaseModel):
    name: str
    publishers: list[str] = Field(description="Distinct publishers seen for this name")
    sources: list[str] = Field(description="Package sources it was listed by (dpkg, rpm, ...)")
    version_count: int = Field(description="Distinct versions installed across the devices")
    device_count: int = Field(description="Devices in reach with at least one version of it")


class SoftwareVersionOut(BaseModel):
    version: str
    device_count: int


class SoftwareDeviceOut(BaseModel):
    """One installed copy: a device having two versions of a package appears twice."""

    device_id: uuid.UUID
    hostname: str
    display_name: str | None
    org_id: uuid.UUID
    site_id: uuid.UUID
    name: str
    version: str
    publisher: str | None
    source: str | None
    install_date: date | None
