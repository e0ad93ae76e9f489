"""Copies Django admin LogEntry rows into the audit log (source "admin")."""

from django.contrib.admin.models import ADDITION, CHANGE, DELETION

from audit.services import audit_record

_ACTIONS = {ADDITION: "add", CHANGE: "change", DELETION: "delete"}


def mirror_admin_log_entry(sender, instance, created, **kwargs):
    if not created:
        return
    content_type = instance.content_type
    label = f"{content_type.app_label}.{content_type.model}" if content_type else "unknown"
    audit_record(
        actor=instance.user,
        action=f"admin.{_ACTIONS.get(instance.action_flag, 'action')}",
        target=(label, instance.object_id or "", instance.object_repr),
        after={"change": instance.get_change_message()} if instance.change_message else None,
        source="admin",
    )
