"""Logs Insights `filter` clauses for the embedded emulator (runs inside the emulator process only).

Why: moto 5.2.5's Logs Insights parser understands `fields`, `sort` and `limit` and ignores every
other command, so `filter @message like /req-42/` returns every line of every group. Slipway's
cross-service log search sends exactly that query to real AWS; without this patch the emulator
would answer it with unrelated lines and the search could not be tried or tested.

What this adds: before moto sorts and limits, events are kept only when they satisfy each
`filter <field> like /regex/` or `filter <field> like "text"` clause (fields @message, @log,
@logStream), the subset of the query language Slipway's search uses. Other filter forms stay
ignored, as before. Nothing here ever runs against real AWS.
"""

from __future__ import annotations

import re

_installed = False

_FILTER = re.compile(
    r"\bfilter\s+(@message|@logStream|@log)\s+like\s+"
    r'(?:/((?:\\.|[^/\\])*)/|"((?:\\.|[^"\\])*)")',
    re.IGNORECASE,
)


def filters_of(query: str) -> list[tuple[str, re.Pattern]]:
    """The (field, compiled pattern) pairs of the query's `filter … like …` clauses."""
    found = []
    for field, regex, text in _FILTER.findall(query):
        pattern = re.compile(regex) if regex else re.compile(re.escape(text.replace('\\"', '"')))
        found.append((field, pattern))
    return found


def _value(event, field: str) -> str:
    if field == "@log":
        return event.log_group.name
    if field == "@logStream":
        return event.log_stream.log_stream_name
    return event.event.message


def install() -> None:
    """Teach moto's Insights query execution the filter clauses (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.logs import logs_query

    original_events = logs_query._create_parsed_events
    original_parse = logs_query.parse_query

    def parse_query(query: str):
        parsed = original_parse(query)
        parsed.slipway_filters = filters_of(query)
        return parsed

    def create_parsed_events(log_groups, query, start_time, end_time):
        events = original_events(log_groups, query, start_time, end_time)
        clauses = getattr(query, "slipway_filters", [])
        return [e for e in events if all(p.search(_value(e, f)) for f, p in clauses)]

    # moto.logs.models imported execute_query by name; execute_query looks both helpers up in
    # logs_query's module globals at call time, so replacing them there is enough.
    logs_query.parse_query = parse_query
    logs_query._create_parsed_events = create_parsed_events
    _installed = True
