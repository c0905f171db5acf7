"""Errors of the API keys domain."""

from breeze.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class ApiKeyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("API key not found")


class KeyCannotCreateKeys(Forbidden):
    def __init__(self) -> None:
        super().__init__("An API key cannot create API keys; sign in as a user")


class NoUser(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only a user can own an API key")


class PermissionsExceedCreator(Forbidden):
    def __init__(self, extra: list[str]) -> None:
        super().__init__(
            "A key cannot have permissions its creator lacks here: " + ", ".join(extra),
            field="permissions",
        )


class PlaceRequired(InvalidInput):
    def __init__(self, both: bool) -> None:
        detail = (
            "Give partner_id or org_id, not both"
            if both
            else "Give partner_id (a partner key) or org_id (an organization key)"
        )
        super().__init__(detail, field="org_id" if both else "partner_id")


class KeyRevoked(Conflict):
    def __init__(self) -> None:
        super().__init__("The API key is revoked and cannot be changed")
