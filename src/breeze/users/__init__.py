"""User accounts, memberships in partners and organizations, invitations."""
