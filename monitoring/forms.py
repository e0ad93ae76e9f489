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
