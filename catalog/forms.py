"""Forms for the catalog pages."""

from __future__ import annotations

import re

from django import forms

from catalog.models import Service
from portal import forms as portal_forms

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
SPLIT_RE = re.compile(r"[\s,]+")
MAX_TAGS = 20
MAX_DEPENDENCIES = 50


def _words(text: str) -> list[str]:
    return [word for word in SPLIT_RE.split(text.strip()) if word]


class ServiceSettingsForm(portal_forms.Form):
    """The catalog data owners edit on the Settings tab.

    Tags and dependencies are typed as words (commas or spaces), not picked from a list: a
    catalog of 50,000 services cannot be a <select>, and typing slugs works without JavaScript.
    """

    name = forms.CharField(max_length=100, help_text="Display name; the slug stays the same.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    lifecycle = forms.ChoiceField(choices=Service.Lifecycle.choices)
    system = forms.CharField(
        max_length=100, required=False, help_text="The larger system this is part of."
    )
    repo_url = forms.URLField(label="Repository URL", required=False, assume_scheme="https")
    docs_url = forms.URLField(label="Documentation URL", required=False, assume_scheme="https")
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
        tags = [tag.lower() for tag in _words(self.cleaned_data["tags"])]
        bad = [tag for tag in tags if not TAG_RE.match(tag)]
        if bad:
            raise forms.ValidationError(
                f"Not a tag: {', '.join(bad)}. Use up to 40 letters, digits, dots, hyphens "
                "or underscores."
            )
        if len(set(tags)) > MAX_TAGS:
            raise forms.ValidationError(f"At most {MAX_TAGS} tags.")
        return tags

    def clean_depends_on(self) -> list[Service]:
        slugs = list(
            dict.fromkeys(word.lower() for word in _words(self.cleaned_data["depends_on"]))
        )
        if len(slugs) > MAX_DEPENDENCIES:
            raise forms.ValidationError(f"At most {MAX_DEPENDENCIES} dependencies.")
        if self.service.slug in slugs:
            raise forms.ValidationError("A service cannot depend on itself.")
        found = {s.slug: s for s in Service.objects.filter(slug__in=slugs)}
        missing = [slug for slug in slugs if slug not in found]
        if missing:
            raise forms.ValidationError(f"No service named {', '.join(missing)} in the catalog.")
        return [found[slug] for slug in slugs]
