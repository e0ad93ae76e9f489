"""The Step Functions forms (create, update): the type and the definition as JSON text.

The text is parsed with size and depth limits (portal.untrusted); `StepFunctionsSpec` checks
the Amazon States Language rules and puts the first problem, with its state's path, next to
the definition field.
"""

from __future__ import annotations

import json

from django import forms

from deployments.forms.common import NewServiceFields, SpecForm
from deployments.specs.stepfunctions import MAX_DEFINITION_BYTES, MAX_DEPTH, StepFunctionsSpec
from portal.untrusted import UntrustedInputError, loads_json_limited

TYPES = [
    ("STANDARD", "Standard (durable, up to a year, exactly once)"),
    ("EXPRESS", "Express (up to 5 minutes, high volume)"),
]
EXAMPLE = {
    "Comment": "Take an order",
    "StartAt": "Charge",
    "States": {
        "Charge": {"Type": "Task", "Resource": "slipway:lambda:payments", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


class WorkflowFields(SpecForm):
    type = forms.ChoiceField(choices=TYPES, initial="STANDARD", label="Workflow type")
    definition = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
        help_text="Amazon States Language as JSON. A Task may call a Slipway Lambda service by "
        'name: "Resource": "slipway:lambda:<service>" (resolved in each environment).',
        initial=json.dumps(EXAMPLE, indent=2),
    )

    def clean_definition(self):
        text = self.cleaned_data["definition"]
        try:
            value = loads_json_limited(text, max_depth=MAX_DEPTH, max_bytes=MAX_DEFINITION_BYTES)
        except UntrustedInputError as exc:
            raise forms.ValidationError(f"The definition is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("The definition is a JSON object with StartAt and States.")
        return value

    def clean(self):
        cleaned = super().clean()
        if "definition" in cleaned:
            self.validate_spec(
                StepFunctionsSpec,
                {
                    "kind": "stepfunctions",
                    "type": cleaned.get("type"),
                    "definition": cleaned["definition"],
                },
            )
        return cleaned

    def spec(self) -> dict:
        return self.typed_spec.to_json()


class StepFunctionsServiceForm(NewServiceFields, WorkflowFields):
    """Create a state machine in one environment."""

    name_help = "Lowercase letters, digits and hyphens; the state machine is <name>-<environment>."


class StepFunctionsUpdateForm(WorkflowFields):
    """Change the definition (the type is fixed once created)."""

    def __init__(self, data=None, files=None, *, spec: dict, **kwargs):
        initial = {"type": spec.get("type"), "definition": json.dumps(spec["definition"], indent=2)}
        super().__init__(data, files, initial=initial, **kwargs)
        self.fields["type"].disabled = True
        self.fields["type"].help_text = "Fixed when the state machine was created."
