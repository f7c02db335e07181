from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiveLikeProfilesConfig(AppConfig):
    name = "livelike_profiles"
    verbose_name = _("LiveLike profiles")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (checks register when imported)

        receivers.connect()
