"""Forms for monitoring pages: the log filter and an alarm threshold."""

from django import forms

from monitoring import logs
from portal import forms as portal_forms


class LogFilterForm(portal_forms.Form):
    range = forms.ChoiceField(
        choices=[(k, k) for k in logs.RANGES], initial=logs.DEFAULT_RANGE, required=False
    )
    pattern = forms.CharField(
        label="Filter pattern",
        max_length=1024,  # CloudWatch's own limit
        required=False,
        help_text='CloudWatch filter pattern, e.g. ERROR or "payment failed".',
    )

    def clean_range(self):
        return self.cleaned_data.get("range") or logs.DEFAULT_RANGE


class ThresholdForm(portal_forms.Form):
    threshold = forms.FloatField(min_value=0, max_value=1e9, label="Threshold")


class LogSearchForm(portal_forms.Form):
    """Search one environment's logs across services: a team, a system or chosen services."""

    text = forms.CharField(
        label="Find",
        min_length=3,
        max_length=200,
        help_text="Text the lines contain, e.g. a request id or an error message.",
    )
    environment = forms.ModelChoiceField(queryset=None, empty_label=None)
    range = forms.ChoiceField(
        choices=[(k, f"last {k}") for k in logs.RANGES], initial=logs.DEFAULT_RANGE
    )
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="any team")
    system = forms.ChoiceField(required=False)
    services = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        help_text="Leave empty for every service the other choices allow.",
    )
    with_dependencies = forms.BooleanField(
        required=False,
        label="and the services they depend on",
        help_text="Follow a request from an API to what it calls.",
    )

    def __init__(self, *args, **kwargs):
        from catalog.models import Environment, Service, Team

        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = Environment.objects.order_by("order", "slug")
        self.fields["team"].queryset = Team.objects.order_by("name")
        self.fields["services"].queryset = Service.objects.order_by("slug")
        systems = (
            Service.objects.exclude(system="").order_by("system").values_list("system", flat=True)
        )
        self.fields["system"].choices = [("", "any system")] + [
            (s, s) for s in dict.fromkeys(systems)
        ]

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if "\n" in text or "\r" in text:
            raise forms.ValidationError("Search for text on one line.")
        if len(text) < 3:
            raise forms.ValidationError("Search for at least 3 characters.")
        return text
