"""Errors of the agent gateway and enrollment keys."""

from breeze.core.errors import Conflict, InvalidInput, NotFound, Unauthorized


class EnrollmentKeyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Enrollment key not found")


class EnrollmentKeyRevoked(Conflict):
    def __init__(self) -> None:
        super().__init__("The enrollment key is revoked and cannot be changed")


class SiteNotInOrg(InvalidInput):
    def __init__(self) -> None:
        super().__init__("site_id must be a site of the organization", field="site_id")


class MaxUsesBelowUses(InvalidInput):
    def __init__(self, uses: int) -> None:
        super().__init__(
            f"max_uses cannot be lower than the enrollments already made ({uses})",
            field="max_uses",
        )


class EnrollmentRefused(Unauthorized):
    """The enrollment key cannot be used; the detail says why."""


class NoSite(Conflict):
    def __init__(self) -> None:
        super().__init__("The organization has no site; create a site first")


class DeviceLimitReached(Conflict):
    pass
