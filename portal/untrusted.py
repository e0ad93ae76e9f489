"""Parsing and checking text that Slipway did not write: log lines, form fields, API bodies.

Such text can be arbitrarily deep, large or odd. The rules here, in one place:
- JSON is parsed only below a size and a nesting depth, measured before the parser runs (the
  C parser and the pretty-printer recurse once per level, so a line of 100,000 "[" is a
  RecursionError, not a parse error);
- every failure of the whole family (RecursionError, TypeError, ValueError, OverflowError) becomes
  `UntrustedInputError`, a ValueError with a message a person can read;
- text bound for the database holds no NUL or other control characters (PostgreSQL refuses NUL
  in text columns), and no lone surrogates (they cannot be encoded as UTF-8).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError

# Everything that can go wrong while parsing or re-serialising untrusted JSON.
PARSE_ERRORS = (RecursionError, TypeError, ValueError, OverflowError)

DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_BYTES = 256 * 1024  # CloudWatch's own limit for one log event

_TOKENS = re.compile(r'\\.|["\[\]{}]', re.S)
# C0 controls except tab, line feed and carriage return; DEL; lone UTF-16 surrogates.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class UntrustedInputError(ValueError):
    """Untrusted text was refused; str(exc) says why, in words for the person who sent it."""


def json_depth(text: str) -> int:
    """The deepest nesting of [ and { in `text`, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = False
    for token in _TOKENS.findall(text):  # one pass; escapes come as two-character tokens
        if token == '"':
            in_string = not in_string
        elif in_string or len(token) == 2:
            continue
        elif token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_json_limited(
    text: str | bytes,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Any:
    """json.loads, refusing text larger than `max_bytes` or nested deeper than `max_depth`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise UntrustedInputError("This is not UTF-8 text.") from None
    if not isinstance(text, str):
        raise UntrustedInputError("Expected JSON text.")
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise UntrustedInputError(f"The JSON is larger than {max_bytes} bytes.")
    if json_depth(text) > max_depth:
        raise UntrustedInputError(f"The JSON is nested deeper than {max_depth} levels.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UntrustedInputError(
            f"This is not valid JSON: {exc.msg} (line {exc.lineno})."
        ) from None
    except PARSE_ERRORS as exc:
        raise UntrustedInputError(f"This JSON cannot be read: {type(exc).__name__}.") from None


def pretty_json(text: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> str:
    """`text` re-indented when it is a JSON object or array within limits; "" otherwise."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return ""
    try:
        value = loads_json_limited(stripped, max_depth=max_depth)
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    except PARSE_ERRORS:
        # Render the raw line instead; a log line may hold anything.
        return ""


def control_character(value: str) -> str:
    """The first refused character in `value` as its code point, e.g. U+0000 ("" when none)."""
    match = _CONTROL.search(value)
    return f"U+{ord(match.group()):04X}" if match else ""


def control_character_message(value: str) -> str:
    """Why `value` is refused ("" when it is fine)."""
    found = control_character(value)
    if not found:
        return ""
    return (
        f"Remove the control character {found}: text fields may not hold NUL or other "
        "control characters."
    )


def refuse_control_characters(value: Any) -> None:
    """A Django validator: refuses NUL, other control characters and lone surrogates."""
    message = control_character_message(value) if isinstance(value, str) else ""
    if message:
        raise ValidationError(message, code="control_character")


def first_control_character(data: Any, path: str = "") -> tuple[str, str] | None:
    """(path, message) of the first string inside `data` (dicts, lists) holding a refused
    character, keys included; None when there is none."""
    stack = [(path, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            message = control_character_message(value)
            if message:
                return where, message
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and control_character(key):
                    return child, control_character_message(key)
                stack.append((child, item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None
