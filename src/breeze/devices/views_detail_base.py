"""What every tab of the device page shares: the tabs, what the signed-in user may do on
this device, and answering a tab either as a whole page (direct load, reload, shared link)
or as the fragment htmx swaps into ``#device-tabs``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from starlette.responses import HTMLResponse

from breeze.core.errors import BreezeError
from breeze.devices.models import Device
from breeze.tenancy.queries import get_org, get_site
from breeze.web.context import WebCtx
from breeze.web.templating import is_htmx, render

TABS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("hardware", "Hardware"),
    ("software", "Software"),
    ("network", "Network"),
    ("disks", "Disks"),
    ("metrics", "Metrics"),
    ("history", "History"),
    ("commands", "Commands"),
)
TAB_LABELS = dict(TABS)
# htmx requests aimed at these elements get the tab fragment instead of the whole page.
FRAGMENT_TARGETS = frozenset({"device-tabs", "command-list", "command-detail"})


@dataclass(frozen=True)
class Allowed:
    """What the page offers on this device (every action checks again on submit)."""

    execute: bool = False
    run_scripts: bool = False
    write: bool = False
    delete: bool = False

    @property
    def any_action(self) -> bool:
        return self.execute or self.run_scripts or self.delete


def allowed(ctx: WebCtx, device: Device) -> Allowed:
    if device.decommissioned_at is not None:
        return Allowed()
    where = {"partner_id": device.partner_id, "org_id": device.org_id, "site_id": device.site_id}
    return Allowed(
        execute=ctx.can("devices:execute", **where),
        run_scripts=ctx.can("scripts:execute", **where),
        write=ctx.can("devices:write", **where),
        delete=ctx.can("devices:delete", **where),
    )


def device_name(device: Device) -> str:
    return device.display_name or device.hostname


def device_url(device_id: uuid.UUID, tab: str = "overview") -> str:
    return f"/devices/{device_id}" if tab == "overview" else f"/devices/{device_id}/{tab}"


def wants_fragment(ctx: WebCtx) -> bool:
    """An htmx swap of the tab area (not a history restore, which needs the whole page)."""
    headers = ctx.request.headers
    return (
        is_htmx(ctx.request)
        and headers.get("HX-Target", "") in FRAGMENT_TARGETS
        and headers.get("HX-History-Restore-Request") != "true"
    )


async def _place_names(ctx: WebCtx, device: Device) -> tuple[str | None, str | None]:
    """The organization's and site's names, where the user may read them."""
    org_name = site_name = None
    async with ctx.read() as s:
        try:
            org_name = (await get_org(s, ctx.principal, device.org_id)).name
        except BreezeError:
            org_name = None
        try:
            site_name = (await get_site(s, ctx.principal, device.site_id)).name
        except BreezeError:
            site_name = None
    return org_name, site_name


async def render_tab(
    ctx: WebCtx,
    device: Device,
    tab: str,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """The tab `template` inside the device page, or alone for an htmx tab swap."""
    values: dict[str, Any] = {
        "device": device,
        "name": device_name(device),
        "tab": tab,
        "tabs": TABS,
        "tab_label": TAB_LABELS[tab],
        "tab_template": template,
        "allowed": allowed(ctx, device),
        "device_url": device_url,
        **(context or {}),
    }
    headers = {"Vary": "HX-Request, HX-Target"}
    org_name, site_name = await _place_names(ctx, device)
    values.update(org_name=org_name, site_name=site_name)
    template = "devices/_detail_tabs.html" if wants_fragment(ctx) else "devices/detail.html"
    return render(ctx, template, values, status=status, headers=headers)
