"""JSON routes of partners, organizations and sites (thin: parse, act, answer)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from breeze.auth.deps import CurrentCtx
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.tenancy import actions, queries
from breeze.tenancy.schemas import (
    OrgCreate,
    OrgOut,
    OrgUpdate,
    PartnerCreate,
    PartnerOut,
    PartnerUpdate,
    SiteCreate,
    SiteOut,
    SiteUpdate,
)

router = APIRouter(tags=["tenancy"])
PartnerList = Annotated[ListParams, Depends(list_query(queries.PARTNER_LIST))]
OrgList = Annotated[ListParams, Depends(list_query(queries.ORG_LIST))]
SiteList = Annotated[ListParams, Depends(list_query(queries.SITE_LIST))]
OrgSiteList = Annotated[ListParams, Depends(list_query(queries.SITES_OF_ORG))]


@router.get("/partners", response_model=Page[PartnerOut])
async def list_partners(ctx: CurrentCtx, params: PartnerList) -> Page[PartnerOut]:
    async with ctx.read() as s:
        rows, total = await queries.list_partners(s, ctx.principal, params)
    return page_of([PartnerOut.model_validate(r) for r in rows], total, params)


@router.post("/partners", response_model=PartnerOut, status_code=status.HTTP_201_CREATED)
async def create_partner(ctx: CurrentCtx, body: PartnerCreate) -> PartnerOut:
    async with ctx.write() as uow:
        partner = await actions.do_create_partner(uow.session, actor=ctx.principal, data=body)
    return PartnerOut.model_validate(partner)


@router.get("/partners/{partner_id}", response_model=PartnerOut)
async def get_partner(ctx: CurrentCtx, partner_id: uuid.UUID) -> PartnerOut:
    async with ctx.read() as s:
        return PartnerOut.model_validate(await queries.get_partner(s, ctx.principal, partner_id))


@router.patch("/partners/{partner_id}", response_model=PartnerOut)
async def update_partner(ctx: CurrentCtx, partner_id: uuid.UUID, body: PartnerUpdate) -> PartnerOut:
    async with ctx.write() as uow:
        partner = await actions.do_update_partner(
            uow.session, actor=ctx.principal, partner_id=partner_id, data=body
        )
    return PartnerOut.model_validate(partner)


@router.delete("/partners/{partner_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_partner(ctx: CurrentCtx, partner_id: uuid.UUID) -> None:
    async with ctx.write() as uow:
        await actions.do_delete_partner(uow.session, actor=ctx.principal, partner_id=partner_id)


@router.get("/orgs", response_model=Page[OrgOut])
async def list_orgs(ctx: CurrentCtx, params: OrgList) -> Page[OrgOut]:
    async with ctx.read() as s:
        rows, total = await queries.list_orgs(s, ctx.principal, params)
    return page_of([OrgOut.model_validate(r) for r in rows], total, params)


@router.post("/orgs", response_model=OrgOut, status_code=status.HTTP_201_CREATED)
async def create_org(ctx: CurrentCtx, body: OrgCreate) -> OrgOut:
    async with ctx.write() as uow:
        org = await actions.do_create_org(uow.session, actor=ctx.principal, data=body)
    return OrgOut.model_validate(org)


@router.get("/orgs/{org_id}", response_model=OrgOut)
async def get_org(ctx: CurrentCtx, org_id: uuid.UUID) -> OrgOut:
    async with ctx.read() as s:
        return OrgOut.model_validate(await queries.get_org(s, ctx.principal, org_id))


@router.patch("/orgs/{org_id}", response_model=OrgOut)
async def update_org(ctx: CurrentCtx, org_id: uuid.UUID, body: OrgUpdate) -> OrgOut:
    async with ctx.write() as uow:
        org = await actions.do_update_org(
            uow.session, actor=ctx.principal, org_id=org_id, data=body
        )
    return OrgOut.model_validate(org)


@router.delete("/orgs/{org_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_org(ctx: CurrentCtx, org_id: uuid.UUID) -> None:
    async with ctx.write() as uow:
        await actions.do_delete_org(uow.session, actor=ctx.principal, org_id=org_id)


@router.get("/orgs/{org_id}/sites", response_model=Page[SiteOut])
async def list_org_sites(ctx: CurrentCtx, org_id: uuid.UUID, params: OrgSiteList) -> Page[SiteOut]:
    async with ctx.read() as s:
        await queries.get_org(s, ctx.principal, org_id)
        rows, total = await queries.list_sites(s, ctx.principal, params, org_id=org_id)
    return page_of([SiteOut.model_validate(r) for r in rows], total, params)


@router.post("/orgs/{org_id}/sites", response_model=SiteOut, status_code=status.HTTP_201_CREATED)
async def create_site(ctx: CurrentCtx, org_id: uuid.UUID, body: SiteCreate) -> SiteOut:
    async with ctx.write() as uow:
        site = await actions.do_create_site(
            uow.session, actor=ctx.principal, org_id=org_id, data=body
        )
    return SiteOut.model_validate(site)


@router.get("/sites", response_model=Page[SiteOut])
async def list_sites(ctx: CurrentCtx, params: SiteList) -> Page[SiteOut]:
    async with ctx.read() as s:
        rows, total = await queries.list_sites(s, ctx.principal, params)
    return page_of([SiteOut.model_validate(r) for r in rows], total, params)


@router.get("/sites/{site_id}", response_model=SiteOut)
async def get_site(ctx: CurrentCtx, site_id: uuid.UUID) -> SiteOut:
    async with ctx.read() as s:
        return SiteOut.model_validate(await queries.get_site(s, ctx.principal, site_id))


@router.patch("/sites/{site_id}", response_model=SiteOut)
async def update_site(ctx: CurrentCtx, site_id: uuid.UUID, body: SiteUpdate) -> SiteOut:
    async with ctx.write() as uow:
        site = await actions.do_update_site(
            uow.session, actor=ctx.principal, site_id=site_id, data=body
        )
    return SiteOut.model_validate(site)


@router.delete("/sites/{site_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_site(ctx: CurrentCtx, site_id: uuid.UUID) -> None:
    async with ctx.write() as uow:
        await actions.do_delete_site(uow.session, actor=ctx.principal, site_id=site_id)
