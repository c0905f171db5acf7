"""Imports every domain's models so metadata is complete (Alembic, tests)."""

from breeze.agents import models as agents_models
from breeze.apikeys import models as apikeys_models
from breeze.audit import models as audit_models
from breeze.auth import models as auth_models
from breeze.commands import models as commands_models
from breeze.customfields import models as customfields_models
from breeze.db.base import Base
from breeze.devices import models as devices_models
from breeze.groups import models as groups_models
from breeze.mail import models as mail_models
from breeze.metrics import models as metrics_models
from breeze.rbac import models as rbac_models
from breeze.savedviews import models as savedviews_models
from breeze.scripts import models as scripts_models
from breeze.tenancy import models as tenancy_models
from breeze.users import models as users_models

__all__ = [
    "Base",
    "agents_models",
    "apikeys_models",
    "audit_models",
    "auth_models",
    "commands_models",
    "customfields_models",
    "devices_models",
    "groups_models",
    "mail_models",
    "metrics_models",
    "rbac_models",
    "savedviews_models",
    "scripts_models",
    "tenancy_models",
    "users_models",
]
