"""Lambda triggers: S3 bucket notifications and EventBridge rules on a custom event bus.

Both point at the function's `live` alias, so events always reach the version last deployed.
What Slipway owns is found from AWS itself: the permissions it added to the alias's resource
policy carry `slipway-s3-…` / `slipway-events-…` statement ids and the source ARN, so a trigger
removed from the spec is still found (and removed) on the next deploy.

Spec shapes (both lists may be missing in older specs):
    "triggers": {"s3": [{"bucket", "events": [...], "prefix", "suffix"}],
                 "eventbridge": [{"bus", "pattern": {...}}]}
Change keys: "trigger-s3/<bucket>.ensure|.delete", "trigger-events/<bus>/<rule>.ensure|.delete"
(rule names hold no "/", actions no ".", so the key splits back unambiguously).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from deployments import names
from portal.aws import aws_client, is_not_found
from portal.untrusted import loads_json_limited

S3_KEY = "trigger-s3"
EVENTS_KEY = "trigger-events"
EVENTS_TARGET_ID = "slipway-lambda"


def s3_triggers(spec: dict) -> dict[str, dict]:
    """bucket → {"events", "prefix", "suffix"}, normalised."""
    triggers = (spec.get("triggers") or {}).get("s3") or []
    return {
        t["bucket"]: {
            "events": sorted(t.get("events") or ["s3:ObjectCreated:*"]),
            "prefix": t.get("prefix", "") or "",
            "suffix": t.get("suffix", "") or "",
        }
        for t in triggers
    }


def canonical_pattern(pattern) -> str:
    if isinstance(pattern, str):
        pattern = loads_json_limited(pattern, max_depth=16, max_bytes=4096)
    return json.dumps(pattern, sort_keys=True, separators=(",", ":"))


def event_triggers(spec: dict, function_name: str) -> dict[str, dict]:
    """rule name → {"bus", "pattern"} (the pattern as canonical JSON)."""
    triggers = (spec.get("triggers") or {}).get("eventbridge") or []
    result = {}
    for t in triggers:
        pattern = canonical_pattern(t["pattern"])
        rule = names.lambda_event_rule(function_name, t["bus"], pattern)
        result[rule] = {"bus": t["bus"], "pattern": pattern}
    return result


# --- observe -------------------------------------------------------------------------------------
def policy_statements(lam, function_name: str) -> list[dict]:
    """Statements of the alias's resource policy ([] when there is no alias or no policy)."""
    try:
        policy = lam.get_policy(FunctionName=function_name, Qualifier=names.LAMBDA_ALIAS)
    except ClientError as exc:
        if is_not_found(exc):
            return []
        raise
    return json.loads(policy["Policy"]).get("Statement", [])


def _source_arn(statement: dict) -> str:
    condition = statement.get("Condition") or {}
    for operator in ("ArnLike", "ArnEquals"):
        arn = (condition.get(operator) or {}).get("AWS:SourceArn")
        if arn:
            return arn
    return ""


def observe(ctx, function_name: str, alias_arn: str, statements: list[dict]) -> dict:
    """What AWS has for the triggers the spec names and the ones Slipway added before."""
    sids = {s.get("Sid", "") for s in statements}
    buckets = set(s3_triggers(ctx.spec))
    rules = {rule: t["bus"] for rule, t in event_triggers(ctx.spec, function_name).items()}
    for statement in statements:
        sid, arn = statement.get("Sid", ""), _source_arn(statement)
        if sid.startswith("slipway-s3-") and arn.startswith("arn:"):
            buckets.add(arn.split(":::", 1)[-1])
        elif sid.startswith("slipway-events-") and ":rule/" in arn:
            bus, _, rule = arn.split(":rule/", 1)[1].rpartition("/")
            rules[rule] = bus or "default"
    client = _client_for(ctx)
    return {
        "s3": {
            b: _observe_bucket(client("s3"), b, function_name, alias_arn, sids) for b in buckets
        },
        "eventbridge": {
            r: _observe_rule(client("events"), r, bus, alias_arn, sids) for r, bus in rules.items()
        },
    }


def _client_for(ctx):
    return lambda service: aws_client(service, environment=ctx.environment, actor=ctx.actor)


def _observe_bucket(s3, bucket: str, function_name: str, alias_arn: str, sids: set) -> dict:
    found: dict[str, Any] = {
        "configured": False,
        "permission": names.lambda_permission_sid("s3", bucket) in sids,
    }
    try:
        config = s3.get_bucket_notification_configuration(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return {**found, "bucket_missing": True}
        raise
    for entry in config.get("LambdaFunctionConfigurations", []):
        if _is_ours(entry, function_name, alias_arn):
            rules = {r["Name"].lower(): r["Value"] for r in _filter_rules(entry)}
            found.update(
                configured=True,
                events=sorted(entry.get("Events", [])),
                prefix=rules.get("prefix", ""),
                suffix=rules.get("suffix", ""),
            )
    return found


def _is_ours(entry: dict, function_name: str, alias_arn: str) -> bool:
    return entry.get("Id") == names.lambda_s3_notification_id(function_name) or (
        bool(alias_arn) and entry.get("LambdaFunctionArn") == alias_arn
    )


def _filter_rules(entry: dict) -> list[dict]:
    return ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules", [])


def _observe_rule(events, rule: str, bus: str, alias_arn: str, sids: set) -> dict:
    found = {
        "bus": bus,
        "exists": False,
        "permission": names.lambda_permission_sid("events", rule) in sids,
    }
    try:
        described = events.describe_rule(Name=rule, EventBusName=bus)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        try:
            events.describe_event_bus(Name=bus)
        except ClientError as bus_exc:
            if not is_not_found(bus_exc):
                raise
            found["bus_missing"] = True
        return found
    targets = events.list_targets_by_rule(Rule=rule, EventBusName=bus).get("Targets", [])
    found.update(
        exists=True,
        arn=described["Arn"],
        pattern=canonical_pattern(described.get("EventPattern") or "{}"),
        target=any(t.get("Arn") == alias_arn for t in targets),
    )
    return found


# --- plan ----------------------------------------------------------------------------------------
def plan(spec: dict, observed: dict, function_name: str):
    """Yield (key, summary, details) for trigger changes; deletions of dropped triggers last."""
    seen_s3 = observed.get("s3", {})
    wanted_s3 = s3_triggers(spec)
    for bucket, want in wanted_s3.items():
        have = seen_s3.get(bucket, {})
        events = " ".join(want["events"])
        filters = "".join(f" {name} {want[name]!r}" for name in ("prefix", "suffix") if want[name])
        if not have.get("configured"):
            line = f"new S3 trigger bucket {bucket} events {events}{filters}"
            if have.get("bucket_missing"):
                line += " (bucket not found: create it first, or this step fails)"
            yield f"{S3_KEY}/{bucket}.ensure", f"Add S3 trigger from bucket {bucket}", (line,)
        elif _s3_differs(want, have) or not have.get("permission"):
            details = tuple(_s3_diff(want, have)) or (f"S3 trigger bucket {bucket}: permission",)
            yield f"{S3_KEY}/{bucket}.ensure", f"Update S3 trigger from bucket {bucket}", details
    seen_rules = observed.get("eventbridge", {})
    wanted_rules = event_triggers(spec, function_name)
    for rule, want in wanted_rules.items():
        have = seen_rules.get(rule, {})
        if have.get("exists") and have.get("target") and have.get("permission"):
            continue
        verb = "Repair" if have.get("exists") else "Add"
        line = f"new EventBridge rule {rule} on bus {want['bus']} pattern {want['pattern']}"
        if have.get("bus_missing"):
            line += " (bus not found: create it first, or this step fails)"
        yield (
            f"{EVENTS_KEY}/{want['bus']}/{rule}.ensure",
            f"{verb} EventBridge trigger on bus {want['bus']}",
            (line,),
        )
    for bucket, have in seen_s3.items():
        if bucket not in wanted_s3 and (have.get("configured") or have.get("permission")):
            yield (
                f"{S3_KEY}/{bucket}.delete",
                f"Remove S3 trigger from bucket {bucket}",
                (f"remove S3 trigger bucket {bucket} (other entries in the bucket stay)",),
            )
    for rule, have in seen_rules.items():
        if rule not in wanted_rules and (have.get("exists") or have.get("permission")):
            yield (
                f"{EVENTS_KEY}/{have['bus']}/{rule}.delete",
                f"Remove EventBridge trigger on bus {have['bus']}",
                (f"remove EventBridge rule {rule} on bus {have['bus']}",),
            )


def plan_delete(observed: dict):
    """Every trigger Slipway added: EventBridge first, then S3 (the spec is empty)."""
    deletes = list(plan({}, observed, ""))
    return [d for d in deletes if d[0].startswith(EVENTS_KEY)] + [
        d for d in deletes if d[0].startswith(S3_KEY)
    ]


def _s3_differs(want: dict, have: dict) -> bool:
    return any(want[k] != have.get(k) for k in ("events", "prefix", "suffix"))


def _s3_diff(want: dict, have: dict):
    for key in ("events", "prefix", "suffix"):
        if want[key] != have.get(key):
            before, after = have.get(key), want[key]
            if key == "events":
                before, after = " ".join(before or []), " ".join(after)
            yield f"S3 trigger {key} {before!r} → {after!r}"


# --- apply ---------------------------------------------------------------------------------------
def apply(ctx, key: str, function_name: str, alias_arn: str) -> str:
    """Carry out one trigger change (idempotent: each step checks what is there first)."""
    target, _, action = key.rpartition(".")
    family, _, name = target.partition("/")
    bus, _, rule = name.rpartition("/")
    client = _client_for(ctx)
    lam = client("lambda")
    if family == S3_KEY:
        sid = names.lambda_permission_sid("s3", name)
        if action == "ensure":
            ensure_permission(
                lam,
                function_name,
                sid,
                principal="s3.amazonaws.com",
                source_arn=f"arn:aws:s3:::{name}",
                account=ctx.environment.aws_account_id,
            )
            want = s3_triggers(ctx.spec)[name]
            _put_bucket_entry(client("s3"), name, function_name, alias_arn, want)
            return f"bucket {name} notifies {alias_arn} on {' '.join(want['events'])}"
        _put_bucket_entry(client("s3"), name, function_name, alias_arn, None)
        remove_permission(lam, function_name, sid)
        return f"bucket {name} no longer notifies {function_name}"
    if family == EVENTS_KEY:
        sid = names.lambda_permission_sid("events", rule)
        events = client("events")
        if action == "ensure":
            want = event_triggers(ctx.spec, function_name)[rule]
            arn = events.put_rule(
                Name=rule,
                EventBusName=want["bus"],
                EventPattern=want["pattern"],
                State="ENABLED",
                Description=f"Slipway: invoke {function_name}:{names.LAMBDA_ALIAS}",
            )["RuleArn"]
            events.put_targets(
                Rule=rule,
                EventBusName=want["bus"],
                Targets=[{"Id": EVENTS_TARGET_ID, "Arn": alias_arn}],
            )
            ensure_permission(
                lam, function_name, sid, principal="events.amazonaws.com", source_arn=arn
            )
            return f"rule {arn} → {alias_arn}"
        _delete_rule(events, rule, bus)
        remove_permission(lam, function_name, sid)
        return f"rule {rule} on bus {bus} removed"
    raise ValueError(f"Unknown Lambda trigger change {key!r}")


def ensure_permission(lam, function_name, sid, *, principal, source_arn, account=""):
    statements = policy_statements(lam, function_name)
    if any(s.get("Sid") == sid for s in statements):
        return
    kwargs = {"SourceAccount": account} if account else {}
    lam.add_permission(
        FunctionName=function_name,
        Qualifier=names.LAMBDA_ALIAS,
        StatementId=sid,
        Action="lambda:InvokeFunction",
        Principal=principal,
        SourceArn=source_arn,
        **kwargs,
    )


def remove_permission(lam, function_name: str, sid: str) -> None:
    try:
        lam.remove_permission(
            FunctionName=function_name, Qualifier=names.LAMBDA_ALIAS, StatementId=sid
        )
    except ClientError as exc:
        if not is_not_found(exc):
            raise


def _put_bucket_entry(s3, bucket, function_name, alias_arn, want: dict | None) -> None:
    """Replace (or with want=None remove) Slipway's entry; every other entry is kept as is."""
    try:
        config = s3.get_bucket_notification_configuration(Bucket=bucket)
    except ClientError as exc:
        if want is None and exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return  # the bucket is gone, and our entry with it
        raise
    config.pop("ResponseMetadata", None)
    entries = config.get("LambdaFunctionConfigurations", [])
    kept = [e for e in entries if not _is_ours(e, function_name, alias_arn)]
    if want is None and len(kept) == len(entries):
        return
    if want is not None:
        entry = {
            "Id": names.lambda_s3_notification_id(function_name),
            "LambdaFunctionArn": alias_arn,
            "Events": want["events"],
        }
        rules = [{"Name": n, "Value": want[n]} for n in ("prefix", "suffix") if want[n]]
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        kept.append(entry)
    config["LambdaFunctionConfigurations"] = kept
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)


def _delete_rule(events, rule: str, bus: str) -> None:
    try:
        events.remove_targets(Rule=rule, EventBusName=bus, Ids=[EVENTS_TARGET_ID])
        events.delete_rule(Name=rule, EventBusName=bus)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
