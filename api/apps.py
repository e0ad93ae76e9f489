from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_delete, post_save


def _token_owner_changed(sender, update_fields=None, **kwargs):
    """A remembered token must not outlive a change to its user or itself (api.services):
    deactivation, staff rights, deletion, revocation. A sign-in only stamps last_login."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    from api.services import tokens_changed

    tokens_changed()


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "API"

    def ready(self):
        # Cache invalidation only (no business logic): every way a user or token row changes,
        # the admin's and the shell's included, forgets the tokens remembered by the API.
        for model in (settings.AUTH_USER_MODEL, "api.ApiToken"):
            post_save.connect(_token_owner_changed, sender=model, dispatch_uid=f"api-{model}-s")
            post_delete.connect(_token_owner_changed, sender=model, dispatch_uid=f"api-{model}-d")
