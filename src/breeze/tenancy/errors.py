"""Errors of the tenancy domain."""

from breeze.core.errors import Conflict, InvalidInput, NotFound


class PartnerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Partner not found")


class OrgNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Organization not found")


class SiteNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Site not found")


class SlugTaken(Conflict):
    def __init__(self, slug: str) -> None:
        super().__init__(f"The slug '{slug}' is already in use", field="slug")


class HasChildren(Conflict):
    pass


class LimitReached(Conflict):
    pass


class UnknownTimezone(InvalidInput):
    def __init__(self, tz: str) -> None:
        super().__init__(f"'{tz}' is not a known IANA time zone", field="timezone")
