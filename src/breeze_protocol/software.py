"""Installed software (seed: DeviceSoftware)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from breeze_protocol._base import Section, WireModel


class SoftwareItem(WireModel):
    name: str = Field(description="Package or product name, without architecture suffix.")
    version: str = Field(description="Full version as the package manager prints it (epoch:...).")
    architecture: str | None = Field(None, description="amd64, x86_64, noarch, all ...")
    publisher: str | None = Field(None, description="Vendor; for dpkg the Maintainer field.")
    install_date: AwareDatetime | None = Field(
        None, description="When installed or last upgraded (UTC), when the source records it."
    )
    install_location: str | None = Field(None, description="Install directory, when known.")
    is_system: bool = Field(
        False, description="Part of the base system (dpkg Essential/required/important priority)."
    )
    source: str = Field(description="Where it was listed: dpkg, rpm, windows-registry, ...")
    product_code: str | None = Field(None, description="MSI product code (Windows).")


class SoftwareInventory(Section):
    sources: list[str] = Field(
        default_factory=list, description="Package sources that were read successfully."
    )
    items: list[SoftwareItem] = Field(default_factory=list, description="Installed packages.")
