"""What every kind's typed spec shares: the base model, the error helper, the error messages.

A spec is the desired state of one service instance (one kind), validated once here and used
by the web form, the JSON API and the provisioner. Rows keep it as a JSON dict
(`spec.model_dump(mode="json")`); `deployments.specs.parse_spec(dict)` turns one back into a
typed spec, or raises `pydantic.ValidationError`.

Rules that involve two fields raise `invalid(message, field=...)`: the message is what the
user reads (the same text on every path), and `field` says which field it belongs to, so the
form shows it next to that field and the API names it in its 422 answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

ERROR_TYPE = "slipway"


class Spec(BaseModel):
    """Base of every kind's spec: strict about unknown keys, `kind` as the discriminator."""

    model_config = ConfigDict(extra="forbid", validate_default=False)

    kind: str
    # The fields a scale changes (the API's scale body; the rest stays as applied).
    scale_fields: ClassVar[tuple[str, ...]] = ()
    # Fields fixed once the service exists, beyond `kind` (the API's update body leaves them out).
    fixed_fields: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict:
        """The JSON dict stored on rows and read by the provisioners."""
        return self.model_dump(mode="json")


def invalid(message: str, *, field: str | None = None) -> PydanticCustomError:
    """A validation error with Slipway's own message text (braces in it are kept as typed).

    `field` (a dotted path such as "autoscaling.max") places a rule checked on the whole model
    under the field it is about.
    """
    ctx: dict[str, Any] = {"message": message}
    if field:
        ctx["field"] = field
    return PydanticCustomError(ERROR_TYPE, "{message}", ctx)


def _choices(expected: str) -> str:
    return expected.replace("'", "")


# Messages for pydantic's own checks, worded as the web forms have always shown them.
MESSAGES = {
    "missing": lambda c: "This field is required.",
    "greater_than_equal": lambda c: f"Ensure this value is greater than or equal to {c['ge']}.",
    "less_than_equal": lambda c: f"Ensure this value is less than or equal to {c['le']}.",
    "greater_than": lambda c: f"Ensure this value is greater than {c['gt']}.",
    "less_than": lambda c: f"Ensure this value is less than {c['lt']}.",
    "string_too_long": lambda c: f"Ensure this value has at most {c['max_length']} characters.",
    "string_too_short": lambda c: (
        "This field is required."
        if c.get("min_length") == 1
        else f"Ensure this value has at least {c['min_length']} characters."
    ),
    "too_long": lambda c: f"At most {c['max_length']} items.",
    "too_short": lambda c: f"At least {c['min_length']} item(s).",
    "literal_error": lambda c: f"Select one of: {_choices(c['expected'])}.",
    "enum": lambda c: f"Select one of: {_choices(c['expected'])}.",
    "int_parsing": lambda c: "Enter a whole number.",
    "int_type": lambda c: "Enter a whole number.",
    "int_from_float": lambda c: "Enter a whole number.",
    "bool_type": lambda c: "Enter true or false.",
    "bool_parsing": lambda c: "Enter true or false.",
    "string_type": lambda c: "Enter text.",
    "dict_type": lambda c: "Enter an object.",
    "list_type": lambda c: "Enter a list.",
    "extra_forbidden": lambda c: "Unknown field.",
    "union_tag_invalid": lambda c: f"Unknown kind; use one of: {_choices(c['expected_tags'])}.",
    "union_tag_not_found": lambda c: "Name the kind.",
}


def error_message(error: Mapping[str, Any]) -> str:
    """The user-facing text of one pydantic error dict (from `ValidationError.errors()`)."""
    ctx = error.get("ctx") or {}
    kind = error.get("type", "")  # errors ninja makes itself (an unreadable body) have none
    if kind == ERROR_TYPE:
        return ctx["message"]
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    known = MESSAGES.get(kind)
    if known is not None:
        try:
            return known(ctx)
        except KeyError:
            pass
    return str(error.get("msg", "Invalid input."))


def location(path: str) -> tuple:
    """("routes", 1, "target") for "routes.1.target"."""
    return tuple(int(p) if p.isdigit() else p for p in path.split("."))


def error_location(error: Mapping[str, Any]) -> tuple:
    """Where an error belongs: its `loc`, extended by the field a model-level rule names."""
    loc = tuple(error.get("loc") or ())
    field = (error.get("ctx") or {}).get("field")
    if error.get("type") == ERROR_TYPE and field:
        loc = loc + location(field)
    return loc


def spec_errors(errors: Sequence[Mapping[str, Any]]) -> list[tuple[tuple, str]]:
    """(location, message) for each error, in pydantic's order."""
    return [(error_location(e), error_message(e)) for e in errors]
