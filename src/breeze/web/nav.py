"""The console's navigation: what the sidebar and the command palette offer.

An entry appears only to a user holding its permission somewhere in the current scope.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    permission: str | None
    section: str = "main"
    keywords: str = ""


NAV: tuple[NavItem, ...] = (
    NavItem("Dashboard", "/", None, keywords="home overview"),
    NavItem("Devices", "/devices", "devices:read", keywords="computers machines endpoints"),
    NavItem("Groups", "/groups", "devices:read", keywords="dynamic static rules"),
    NavItem("Scripts", "/scripts", "scripts:read", keywords="library automation"),
    NavItem("Script runs", "/scripts/executions", "scripts:read", keywords="executions history"),
    NavItem("Organizations", "/settings/tenancy", "orgs:read", "settings", "partners sites"),
    NavItem("Users", "/settings/users", "users:read", "settings", "invitations people"),
    NavItem("Roles", "/settings/roles", "roles:read", "settings", "permissions matrix"),
    NavItem("API keys", "/settings/api-keys", "api_keys:read", "settings", "tokens"),
    NavItem(
        "Enrollment keys",
        "/settings/enrollment-keys",
        "enrollment_keys:read",
        "settings",
        "install agent deploy",
    ),
    NavItem("Custom fields", "/settings/custom-fields", "devices:read", "settings", "fields"),
    NavItem("Audit log", "/settings/audit", "audit:read", "settings", "activity history"),
    NavItem("Profile", "/profile", None, "account", "password mfa sessions"),
)
