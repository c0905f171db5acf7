"""How a table names its tenant columns, so restrict() can scope any of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tenancy:
    """Attribute names of the tenant columns of a model (None: the model has none).

    A row may be partner-level (org column NULL, e.g. a partner-wide role) or
    org-level. `site` narrows org-level rows for users scoped to some sites.
    """

    partner: str | None = None
    org: str | None = None
    site: str | None = None

    def __post_init__(self) -> None:
        # Rows that name an organization also carry its partner (denormalised), so
        # restrict() never needs a join to scope them by partner.
        if self.org is not None and self.partner is None:
            raise ValueError("a model with an org column must also have a partner column")
