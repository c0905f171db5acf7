"""Request and response bodies of partners, organizations and sites."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from breeze.core.patch import SLUG_PATTERN

Name = Field(min_length=1, max_length=200)
MAX_INT32 = 2_147_483_647
PartnerType = Literal["msp", "enterprise", "internal"]
Plan = Literal["free", "pro", "enterprise", "unlimited"]
OrgType = Literal["customer", "internal"]
OrgStatus = Literal["active", "suspended", "trial", "churned"]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PartnerCreate(Input):
    name: str = Name
    slug: str | None = Field(None, pattern=SLUG_PATTERN)
    type: PartnerType = "msp"
    plan: Plan = "free"
    max_organizations: int | None = Field(None, ge=0, le=MAX_INT32)
    max_devices: int | None = Field(None, ge=0, le=MAX_INT32)
    settings: dict[str, Any] = Field(default_factory=dict)
    billing_email: EmailStr | None = None


class PartnerUpdate(Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    slug: str | None = Field(None, pattern=SLUG_PATTERN)
    type: PartnerType | None = None
    plan: Plan | None = None
    max_organizations: int | None = Field(None, ge=0, le=MAX_INT32)
    max_devices: int | None = Field(None, ge=0, le=MAX_INT32)
    settings: dict[str, Any] | None = None
    billing_email: EmailStr | None = None


class PartnerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    type: str
    plan: str
    max_organizations: int | None
    max_devices: int | None
    settings: dict[str, Any]
    billing_email: str | None
    created_at: datetime
    updated_at: datetime


class _ContractDates(Input):
    contract_start: date | None = None
    contract_end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> _ContractDates:
        if self.contract_start and self.contract_end and self.contract_end < self.contract_start:
            raise ValueError("contract_end must not be before contract_start")
        return self


class OrgCreate(_ContractDates):
    partner_id: uuid.UUID
    name: str = Name
    slug: str | None = Field(None, pattern=SLUG_PATTERN)
    type: OrgType = "customer"
    status: OrgStatus = "active"
    max_devices: int | None = Field(None, ge=0, le=MAX_INT32)
    settings: dict[str, Any] = Field(default_factory=dict)
    billing_contact: dict[str, Any] = Field(default_factory=dict)


class OrgUpdate(_ContractDates):
    name: str | None = Field(None, min_length=1, max_length=200)
    slug: str | None = Field(None, pattern=SLUG_PATTERN)
    type: OrgType | None = None
    status: OrgStatus | None = None
    max_devices: int | None = Field(None, ge=0, le=MAX_INT32)
    settings: dict[str, Any] | None = None
    billing_contact: dict[str, Any] | None = None


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    partner_id: uuid.UUID
    name: str
    slug: str
    type: str
    status: str
    max_devices: int | None
    settings: dict[str, Any]
    contract_start: date | None
    contract_end: date | None
    billing_contact: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class Address(Input):
    line1: str | None = Field(None, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=100)
    region: str | None = Field(None, max_length=100)
    postal_code: str | None = Field(None, max_length=20)
    country: str | None = Field(None, max_length=100)


class Contact(Input):
    name: str | None = Field(None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(None, max_length=50)


class SiteCreate(Input):
    name: str = Name
    address: Address = Field(default_factory=Address)
    timezone: str = Field("UTC", max_length=64)
    contact: Contact = Field(default_factory=Contact)
    settings: dict[str, Any] = Field(default_factory=dict)


class SiteUpdate(Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    address: Address | None = None
    timezone: str | None = Field(None, max_length=64)
    contact: Contact | None = None
    settings: dict[str, Any] | None = None


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    partner_id: uuid.UUID
    name: str
    address: dict[str, Any]
    timezone: str
    contact: dict[str, Any]
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
