"""Form pieces shared by every kind."""

from django import forms


class DeleteForm(forms.Form):
    """Destructive actions ask for the service name, typed, before anything is planned."""

    confirm_name = forms.CharField(
        label="Type the service name to confirm",
        help_text="Everything this service owns in the environment will be deleted.",
    )

    def __init__(self, *args, expected: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.expected:
            raise forms.ValidationError(f"Type {self.expected} exactly to confirm.")
        return value
