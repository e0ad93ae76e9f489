from django import forms
from django.core.validators import RegexValidator

from catalog.models import Environment, Service, Team, slug_validator
from interop import backstage
from interop.adopters import adopter_for
from interop.apps_grouping import SOURCES
from portal import forms as portal_forms


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".yaml,.yml"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            if not data:  # no file chosen: the usual "required" error
                return [single(None, initial)]
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class ImportForm(portal_forms.Form):
    files = MultipleFileField(
        label="catalog-info.yaml files",
        help_text=f"Up to {backstage.MAX_FILE_BYTES // 1024} KB each; Group, System, Component "
        "and API entities are imported, other kinds are reported.",
    )

    def clean_files(self):
        files = self.cleaned_data["files"]
        total = sum(f.size for f in files)
        if total > backstage.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The files total more than {backstage.MAX_UPLOAD_BYTES // 1024 // 1024} MB; "
                "import larger catalogs with `manage.py import_backstage`."
            )
        return files


class DiscoveryForm(portal_forms.Form):
    environment = forms.ModelChoiceField(
        Environment.objects.all(), to_field_name="slug", empty_label=None
    )


class AdoptForm(portal_forms.Form):
    """Adopt one unmanaged resource (of a kind with an adopter) into the catalog."""

    kind = forms.CharField(max_length=40, initial="lambda")
    name = forms.CharField(max_length=512, label="Resource")
    slug = forms.CharField(
        max_length=40,
        validators=[slug_validator],
        label="Service name",
        help_text="The catalog slug; the resource keeps its own name in AWS.",
    )
    owner = forms.ModelChoiceField(queryset=Team.objects.none(), label="Owner team")
    description = forms.CharField(required=False, max_length=256)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = teams

    def clean_kind(self):
        kind = self.cleaned_data["kind"]
        if adopter_for(kind) is None:
            raise forms.ValidationError("Slipway cannot adopt this kind of resource.")
        return kind

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if Service.objects.filter(slug=slug).exists():
            raise forms.ValidationError("A service with this name already exists.")
        return slug


class AppAdoptForm(portal_forms.Form):
    """Adopt a Copilot or Proton app environment's services in one step."""

    source = forms.ChoiceField(choices=list(SOURCES.items()))
    app = forms.CharField(max_length=128)
    app_environment = forms.CharField(max_length=128, required=False)
    environment = forms.ModelChoiceField(
        Environment.objects.all(),
        to_field_name="slug",
        empty_label=None,
        label="Slipway environment",
        help_text="Where the app's environment goes in the catalog (its AWS account is read).",
    )
    owner = forms.ModelChoiceField(queryset=Team.objects.none(), label="Owner team")
    prefix = forms.CharField(
        max_length=20,
        required=False,
        validators=[RegexValidator(r"^[a-z][a-z0-9-]*$", "Lowercase letters, digits, hyphens.")],
        label="Name prefix",
        help_text="Put before every service name, e.g. shop-.",
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = teams
