"""Errors of users, memberships and invitations."""

from __future__ import annotations

from breeze.core.errors import Conflict, InvalidInput, NotFound


class UserNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("User not found")


class MembershipNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("The user has no such membership")


class AlreadyMember(Conflict):
    def __init__(self) -> None:
        super().__init__("The user is already a member there; change their membership instead")


class InvitationInvalid(InvalidInput):
    """Unknown, used, expired or revoked invitation token."""

    status = 400
    code = "invalid_invitation"
    title = "Invalid invitation"

    def __init__(self) -> None:
        super().__init__(
            "The invitation link is not valid or has expired; ask for a new one", field="token"
        )


class SelfChange(Conflict):
    pass


class NotInvited(Conflict):
    def __init__(self) -> None:
        super().__init__("Only users who have not accepted their invitation can get a new one")
