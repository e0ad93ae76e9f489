from django import forms

from audit.models import AuditEvent
from catalog.models import Environment
from portal import forms as portal_forms


class AuditFilterForm(portal_forms.Form):
    """Filters on the audit page (all optional, GET)."""

    actor = forms.CharField(required=False, max_length=150, label="Actor (username)")
    action = forms.CharField(required=False, max_length=100, help_text="Prefix, e.g. service.")
    environment = forms.ModelChoiceField(
        Environment.objects.all(), required=False, to_field_name="slug", empty_label="Any"
    )
    source = forms.ChoiceField(
        required=False, choices=[("", "Any")] + list(AuditEvent.Source.choices)
    )
    result = forms.ChoiceField(
        required=False, choices=[("", "Any")] + list(AuditEvent.Result.choices)
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filters(self) -> dict:
        data = self.cleaned_data
        env = data.get("environment")
        return {
            "actor": data.get("actor", ""),
            "action": data.get("action", ""),
            "environment": env.slug if env else "",
            "source": data.get("source", ""),
            "result": data.get("result", ""),
            "since": data.get("since"),
            "until": data.get("until"),
        }
