"""Form pieces shared by every kind."""

from django import forms

from catalog.models import Environment, Service, Team, slug_validator
from portal import forms as portal_forms


class NewServiceFields(portal_forms.Form):
    """The catalog half of every create form: name, owner team, environment, description.

    Subclasses set `name_label` and `name_help` to say what the name becomes in AWS.
    """

    name_label = "Name"
    name_help = "Lowercase letters, digits and hyphens. Also the catalog id."

    name = forms.CharField(max_length=40, validators=[slug_validator])
    owner = forms.ModelChoiceField(queryset=Team.objects.none(), label="Owner team")
    environment = forms.ModelChoiceField(queryset=Environment.objects.all())
    description = forms.CharField(required=False, max_length=256, widget=forms.TextInput)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].label = self.name_label
        self.fields["name"].help_text = self.name_help
        self.fields["owner"].queryset = teams
        if len(teams) == 1:
            self.fields["owner"].initial = teams.first()

    def clean_name(self):
        name = self.cleaned_data["name"]
        if Service.objects.filter(slug=name).exists():
            raise forms.ValidationError("A service with this name already exists.")
        return name


class DeleteForm(portal_forms.Form):
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
