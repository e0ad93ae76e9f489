"""Limited parsing of untrusted JSON and the control-character rule (portal/untrusted.py)."""

import pytest

from portal.untrusted import (
    UntrustedInputError,
    first_control_character,
    json_depth,
    loads_json_limited,
    pretty_json,
)

DEEP = "[" * 100_000 + "]" * 100_000


def test_depth_ignores_brackets_inside_strings():
    assert json_depth('{"a": "[[[[\\"[", "b": [1, {"c": []}]}') == 4
    assert json_depth("plain text") == 0


@pytest.mark.parametrize(
    "text, reason",
    [
        (DEEP, "nested deeper than 32"),
        ('{"a": "' + "x" * 300_000 + '"}', "larger than"),
        ("{'single': 'quotes'}", "not valid JSON"),
        ("1" * 5000, "cannot be read"),  # int() digit limit: a ValueError from inside json
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_hostile_json_is_refused_with_a_reason(text, reason):
    with pytest.raises(UntrustedInputError, match=reason):
        loads_json_limited(text)


def test_pretty_json_falls_back_to_raw_text():
    assert pretty_json(DEEP) == ""
    assert pretty_json("[" * 5000) == ""  # unbalanced
    assert pretty_json("not json") == ""
    assert pretty_json('{"b": 1, "a": [2]}') == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}'


def test_control_characters_are_found_anywhere_in_a_body():
    assert first_control_character({"a": ["ok\tfine\r\n", {"b": "x\x00"}]})[0] == "a[1].b"
    assert first_control_character({"k\x1b": "v"})[0] == "k\x1b"
    assert first_control_character(["\ud800"]) is not None  # a lone surrogate
    assert first_control_character({"a": ["é", "日本", "🚀", 1, None]}) is None
