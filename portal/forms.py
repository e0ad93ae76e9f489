"""The base of every Slipway form: text with NUL or other control characters is refused.

PostgreSQL refuses NUL in text columns, and a lookup such as a ModelChoiceField's runs before any
field validator, so the check comes first, on the raw submitted value, for every field: the user
reads the reason next to the field, and nothing reaches the database or AWS.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator

from portal.untrusted import control_character_message


def _refusal(value) -> str:
    values = value if isinstance(value, list | tuple) else [value]
    for item in values:
        if isinstance(item, str):
            message = control_character_message(item)
            if message:
                return message
    return ""


class RefuseControlCharacters:
    """Form mixin: a field whose raw value holds a control character gets an error and is not
    cleaned further (its own clean, a database lookup, never sees the value)."""

    def _clean_fields(self):
        # Django's own loop (forms.BaseForm._clean_fields), with the check in front.
        for name, bf in self._bound_items():
            message = _refusal(bf.data)
            if message:
                self.add_error(name, ValidationError(message, code="control_character"))
                continue
            try:
                self.cleaned_data[name] = bf.field._clean_bound_field(bf)
                if hasattr(self, f"clean_{name}"):
                    self.cleaned_data[name] = getattr(self, f"clean_{name}")()
            except ValidationError as e:
                self.add_error(name, e)


class Form(RefuseControlCharacters, forms.Form):
    """Use this instead of django.forms.Form (tests/test_untrusted_forms.py checks every form)."""


class AuthenticationForm(RefuseControlCharacters, auth_forms.AuthenticationForm):
    """The sign-in form; a NUL in the username must not reach the user lookup, and neither may
    an over-long one (Django sets only the widget's maxlength here; django-axes would then fail
    to record the attempt in its 255-character column)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))
