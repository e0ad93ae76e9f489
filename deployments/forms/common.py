"""Form pieces shared by every kind."""

from django import forms
from django.core.exceptions import ValidationError

from catalog.models import Environment, Service, Team, slug_validator
from portal import forms as portal_forms

# The create form's answer to a name in the catalog; the same words when the name is taken
# after the form's check (deployments.views, the API's launch: catalog.services.SlugTaken).
NAME_TAKEN = "A service with this name already exists."


class TeamChoiceField(forms.ModelChoiceField):
    """A choice among the teams the form was given, which the form reads once (`known`): the
    submitted team is found in that list instead of by a query of its own. Anything else
    (another team's id, not a number) is refused as an invalid choice, as Django's own field
    refuses it."""

    known: list[Team] | None = None

    def to_python(self, value):
        if self.known is None or value in self.empty_values:
            return super().to_python(value)
        self.validate_no_null_characters(value)
        try:
            pk = Team._meta.pk.to_python(getattr(value, "pk", value))
        except ValidationError:
            pk = None
        for team in self.known:
            if pk is not None and team.pk == pk:
                return team
        raise ValidationError(
            self.error_messages["invalid_choice"],
            code="invalid_choice",
            params={"value": value},
        )


class NewServiceFields(portal_forms.Form):
    """The catalog half of every create form: name, owner team, environment, description.

    Subclasses set `name_label` and `name_help` to say what the name becomes in AWS.
    """

    name_label = "Name"
    name_help = "Lowercase letters, digits and hyphens. Also the catalog id."

    name = forms.CharField(max_length=40, validators=[slug_validator])
    owner = TeamChoiceField(queryset=Team.objects.none(), label="Owner team")
    environment = forms.ModelChoiceField(queryset=Environment.objects.all())
    description = forms.CharField(required=False, max_length=256, widget=forms.TextInput)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].label = self.name_label
        self.fields["name"].help_text = self.name_help
        owner = self.fields["owner"]
        owner.queryset = teams
        owner.known = list(teams)  # one read, for the default below and the submitted choice
        if len(owner.known) == 1:
            owner.initial = owner.known[0]

    def for_existing(self, *, service: Service, environment: Environment) -> None:
        """Deploy a service already in the catalog (imported from Backstage, say): its name,
        owner and the environment are fixed, and shown filled in."""
        self.existing = service
        for field, value in (
            ("name", service.slug),
            ("owner", service.owner),
            ("environment", environment),
        ):
            self.fields[field].initial = value
            self.fields[field].disabled = True

    def clean_name(self):
        name = self.cleaned_data["name"]
        if getattr(self, "existing", None) and name == self.existing.slug:
            return name
        if Service.objects.filter(slug=name).exists():
            raise forms.ValidationError(NAME_TAKEN)
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


class SpecForm(portal_forms.Form):
    """A form whose fields encode a typed spec (deployments.specs): the spec holds the rules.

    The form parses its widgets (textarea lines, JSON text) into the spec's shape, then
    `validate_spec` checks it through the spec's model and puts each error next to the form
    field it came from. `spec_fields` maps a spec path ("triggers.s3", "autoscaling.max") to
    that form field; `spec_lines` (filled while parsing textareas) turns a list index into
    "Line N:" so the user finds the line they typed.
    """

    spec_fields: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec_lines: dict[str, list[int]] = {}
        self.typed_spec = None

    def _field_for(self, loc: tuple) -> tuple[str | None, int | None]:
        """The form field an error location belongs to, and the list index inside it."""
        parts = [str(p) for p in loc]
        for end in range(len(parts), 0, -1):
            path = ".".join(parts[:end])
            field = self.spec_fields.get(path) or (path if path in self.fields else None)
            if field:
                index = next((p for p in loc[end:] if isinstance(p, int)), None)
                return field, index
        return None, None

    def validate_spec(self, spec_class, data: dict):
        """Validate `data` as `spec_class`; on errors add them to their fields, return None."""
        from pydantic import ValidationError

        from deployments.specs import spec_errors

        already = set(self.errors)  # their own parsing already said what is wrong
        try:
            self.typed_spec = spec_class.model_validate(data)
        except ValidationError as exc:
            for loc, message in spec_errors(exc.errors()):
                self.add_spec_error(loc, message, unless=already)
            self.typed_spec = None
        return self.typed_spec

    def add_spec_error(self, loc: tuple, message: str, *, unless: set | None = None) -> None:
        """Show a spec error (at spec location `loc`) next to the form field it belongs to,
        unless that field is one of `unless`."""
        field, index = self._field_for(loc)
        if field not in self.fields:
            field = None  # e.g. a rule on a field this form does not show
        elif unless and field in unless:
            return
        lines = self.spec_lines.get(field or "")
        if lines and index is not None and index < len(lines):
            message = f"Line {lines[index]}: {message}"
        self.add_error(field, message)


class TimedRevertField(portal_forms.Form):
    """The optional "revert after N hours" of every scale form (deployments/timed.py)."""

    revert_after_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=7 * 24,
        label="Revert after (hours)",
        help_text="Optional: go back to today's numbers after this many hours, through a "
        "normal, audited deployment (refused if someone changes the scaling meanwhile).",
    )
