"""Forms for the catalog pages."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from catalog.models import Service
from catalog.specs import resolve_dependencies, settings_checked
from portal import forms as portal_forms

SPLIT_RE = re.compile(r"[\s,]+")


def _words(text: str) -> list[str]:
    return [word for word in SPLIT_RE.split(text.strip()) if word]


class ServiceSettingsForm(portal_forms.Form):
    """The catalog data owners edit on the Settings tab.

    Tags and dependencies are typed as words (commas or spaces), not picked from a list: a
    catalog of 50,000 services cannot be a <select>, and typing slugs works without JavaScript.
    """

    name = forms.CharField(help_text="Display name; the slug stays the same.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    lifecycle = forms.ChoiceField(choices=Service.Lifecycle.choices)
    system = forms.CharField(required=False, help_text="The larger system this is part of.")
    repo_url = forms.CharField(label="Repository URL", required=False)
    docs_url = forms.CharField(label="Documentation URL", required=False)
    tags = forms.CharField(
        required=False,
        help_text="Lowercase words separated by commas or spaces, e.g. pci, python, batch.",
    )
    depends_on = forms.CharField(
        label="Depends on",
        required=False,
        help_text="Slugs of the services this one calls, separated by commas or spaces.",
    )

    def __init__(self, *args, service: Service, **kwargs):
        self.service = service
        initial = {
            "name": service.name,
            "description": service.description,
            "lifecycle": service.lifecycle,
            "system": service.system,
            "repo_url": service.repo_url,
            "docs_url": service.docs_url,
            "tags": ", ".join(service.tags or []),
            "depends_on": ", ".join(s.slug for s in service.depends_on.order_by("slug")),
        }
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)

    def clean_tags(self) -> list[str]:
        return _words(self.cleaned_data["tags"])

    def clean_depends_on(self) -> list[str]:
        return _words(self.cleaned_data["depends_on"])

    def clean(self):
        """Check the typed words through `ServiceSettings` (catalog/specs.py), the rules the
        API and catalog.services use too, and put each error next to its field."""
        cleaned = super().clean()
        fields = [name for name in self.fields if name in cleaned]
        try:
            checked = settings_checked({name: cleaned[name] for name in fields})
            cleaned.update(checked.model_dump())
            cleaned["depends_on"] = resolve_dependencies(
                service=self.service, slugs=checked.depends_on
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                if field not in self.errors:
                    self.add_error(field if field in self.fields else None, messages)
        return cleaned
