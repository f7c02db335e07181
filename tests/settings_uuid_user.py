"""The test settings with a custom user model: UUID primary key, e-mail as USERNAME_FIELD.

`make test` runs the provisioning tests (tests/provisioning/) a second time with these.
"""

from .settings import *  # noqa: F403
from .settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_user"]
AUTH_USER_MODEL = "custom_user.EmailUser"

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"]["NAME"] = DATABASES["default"]["TEST"]["NAME"].replace(
        "test_db", "test_db_uuid_user"
    )
else:
    DATABASES["default"]["TEST"] = {"NAME": DATABASES["default"]["TEST"]["NAME"] + "_uuid_user"}
