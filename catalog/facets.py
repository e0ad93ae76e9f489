"""Filter counts ("facets") of the catalog page.

Each facet is counted under every *other* active filter, so its options say what choosing
them would give. On PostgreSQL the database does the bookkeeping (migrations 0010, 0011):
triggers keep the catalog-wide counts (`Cube`) and a clock of the writes (`counts_version`),
and log what each write changed, so cached counts of a search are patched after a write
(`facets_patch`) instead of recounted. Writes never recount anything.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.db import connection
from django.db.models import BooleanField, Count, F, Func, QuerySet, Value

from catalog.filters import (
    DEPLOYED,
    CatalogQuery,
    search_tokens,
    service_q,
    tsquery,
    with_instance_filter,
)
from catalog.models import Environment, Service, ServiceInstance, Team

# How long facet counts are reused at most (a process's copy of the catalog-wide counts, and
# the counts of one question in the shared cache); writes show at once (see counts_version).
FACET_CACHE_SECONDS = getattr(settings, "CATALOG_FACET_CACHE_SECONDS", 30)
_VERSION_KEY = "catalog:facets:version"
# Part of every cached entry's key: a release that changes what an entry holds changes it, so
# processes of the release before (a rolling upgrade: Redis outlives them) and of this one
# never read each other's entries. 2: (version tuple, facets) and the ":counted" patch data.
_ENTRY_FORMAT = 2
TEAM_FACET_LIMIT = 12  # the team facet lists the largest teams; the teams page has them all


@dataclass
class FacetOption:
    value: str
    label: str
    count: int
    selected: bool
    url: str = ""  # set by the view: this option toggled in the current query string


@dataclass
class Facet:
    name: str  # the query parameter
    label: str
    options: list[FacetOption]
    hidden: int = 0  # options left out of a long list


def counted_by_database() -> bool:
    """PostgreSQL counts every catalog write itself (migration 0010: triggers on the service
    and instance tables keep the catalog-wide counts and a clock of the writes). Elsewhere
    (SQLite, development) the counts are grouped queries, forgotten after each write by the
    catalog services (`catalog_changed`)."""
    return connection.vendor == "postgresql"


def catalog_changed() -> None:
    """Forget every cached count. On PostgreSQL writes need not call it (the database versions
    its counts itself): for a database that went back (a test's rollback, a restore). On
    SQLite the catalog services call it after every write."""
    try:
        cache.incr(_VERSION_KEY)
    except ValueError:  # not set yet (or evicted)
        cache.set(_VERSION_KEY, 1, None)


def counts_version(generation) -> tuple:
    """The version of the catalog's counts: `generation` (catalog_changed's, from the shared
    cache) and, on PostgreSQL, the clock its triggers advance with every committed write of a
    service or an instance (sums of 32 counters that only grow: (services, instances)).

    Read before the counts it labels, so counts are never older than their label: a write
    committed in between shows in them, and bumps the clock for the next reader too.
    """
    if not counted_by_database():
        return (generation, 0, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(services), sum(instances) FROM catalog_facet_clock")
        services, instances = cursor.fetchone()
    return (generation, int(services), int(instances))


@dataclass(frozen=True)
class Cube:
    """Catalog-wide counts per combination, small enough to read on every page (~2,000 rows at
    50,000 services): facets without search words are sums over these, in Python.

    The deployed counts (per environment) are read apart, only when an environment filter
    asks for them.
    """

    services: tuple  # (owner_id, kind, lifecycle, n)
    instances: tuple  # (kind, lifecycle, environment_id, status, n): all teams


_memo: dict = {}  # this process's copies of the catalog-wide counts, by part and version


def _rows(sql: str, params=()) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(cursor.fetchall())


def _compute_services() -> tuple:
    if counted_by_database():
        return _rows("SELECT owner_id, kind, lifecycle, n FROM catalog_facet_services WHERE n > 0")
    grouped = Service.objects.values_list("owner_id", "kind", "lifecycle")
    return tuple(grouped.annotate(n=Count("*")).order_by())


def _compute_instances() -> tuple:
    if counted_by_database():
        return _rows(
            "SELECT kind, lifecycle, environment_id, status, n FROM catalog_facet_instances "
            "WHERE n > 0"
        )
    grouped = ServiceInstance.objects.values_list(
        "service__kind", "service__lifecycle", "environment_id", "status"
    )
    return tuple(grouped.annotate(n=Count("*")).order_by())


def _compute_cube() -> Cube:
    return Cube(services=_compute_services(), instances=_compute_instances())


def _compute_deployed(env_id) -> tuple:
    """(owner_id, kind, lifecycle, n) of the services deployed in one environment."""
    if counted_by_database():
        return _rows(
            "SELECT owner_id, kind, lifecycle, n FROM catalog_facet_deployed "
            "WHERE environment_id = %s AND n > 0",
            [env_id],
        )
    grouped = (
        ServiceInstance.objects.filter(status__in=DEPLOYED, environment_id=env_id)
        .values_list("service__owner_id", "service__kind", "service__lifecycle")
        .annotate(n=Count("*"))
        .order_by()
    )
    return tuple(grouped)


def _fresh(key: tuple):
    """This process's copy of one part of the catalog-wide counts at `key` (the part, then the
    version parts it depends on), or None. On SQLite instance statuses change without a new
    version (the deployment workers write them), so no copy is kept longer than
    FACET_CACHE_SECONDS."""
    found = _memo.get(key[0])
    if found is None or found[0] != key or time.monotonic() - found[1] > FACET_CACHE_SECONDS:
        return None
    return found[2]


def _keep(key: tuple, rows: tuple) -> tuple:
    _memo[key[0]] = (key, time.monotonic(), rows)
    return rows


def _cube(version) -> Cube:
    generation, services_clock, instances_clock = version
    services_key = ("services", generation, services_clock)
    instances_key = ("instances", generation, instances_clock)
    services, instances = _fresh(services_key), _fresh(instances_key)
    if services is None and instances is None and counted_by_database():
        # Both (a process's first page): one statement.
        rows = _rows(
            "SELECT 0, owner_id, kind, lifecycle, NULL, NULL, n FROM catalog_facet_services "
            "WHERE n > 0 UNION ALL "
            "SELECT 1, NULL, kind, lifecycle, environment_id, status, n "
            "FROM catalog_facet_instances WHERE n > 0"
        )
        services = tuple(
            (owner, kind, life, n) for part, owner, kind, life, _, _, n in rows if part == 0
        )
        instances = tuple(
            (kind, life, env, st, n) for part, _, kind, life, env, st, n in rows if part == 1
        )
        _keep(services_key, services)
        _keep(instances_key, instances)
    if services is None:
        services = _keep(services_key, _compute_services())
    if instances is None:
        instances = _keep(instances_key, _compute_instances())
    return Cube(services=services, instances=instances)


def _deployed(version, env_id) -> tuple:
    key = (("deployed", env_id), *version)
    found = _fresh(key)
    return found if found is not None else _keep(key, _compute_deployed(env_id))


def cached_facets(query: CatalogQuery, **kwargs) -> tuple[list[Facet], int]:
    """Facet counts are the expensive part of a page at 50,000 services; paging, sorting and
    every user asking the same question share them for FACET_CACHE_SECONDS, or until a write
    changes the version (`counts_version`). On PostgreSQL every write shows at once, whoever
    makes it (instance statuses written by the deployment workers included); on SQLite the
    catalog services' writes show at once and instance statuses within the cache time.
    """
    lookup = facets_lookup(query)
    if lookup.found is None and lookup.stale:
        lookup.found = facets_patch(lookup, query, **kwargs)
    if lookup.found is not None:
        return lookup.found
    return facets_store(lookup, query, **kwargs)


@dataclass
class FacetLookup:
    key: str
    version: tuple  # counts_version()
    found: tuple[list[Facet], int] | None  # None: not cached at this version (count them)
    stale: bool = False  # cached at an older version (facets_patch may bring them up to date)


def facets_lookup(query: CatalogQuery) -> FacetLookup:
    """The cached counts of `query` if they were counted at the catalog's current version."""
    filters = (query.q.lower(), query.team, query.kind, query.lifecycle)
    filters += (query.environment, query.status, query.fuzzy)
    digest = hashlib.sha1(repr(filters).encode(), usedforsecurity=False).hexdigest()
    key = f"catalog:facets:{_ENTRY_FORMAT}:{digest}"
    # The database's clock, then one round trip for the generation and these counts, stored
    # with the version they were counted at: counts from before the latest write are not used.
    clock = counts_version(0)  # first: the counts read after it are never older than it
    found = cache.get_many([_VERSION_KEY, key])
    version = (found.get(_VERSION_KEY, 0), *clock[1:])
    cached = found.get(key)
    fresh = cached is not None and cached[0] == version
    # Stale: counted before a write, but after the last catalog_changed (which forgets all).
    stale = cached is not None and not fresh and cached[0][0] == version[0]
    return FacetLookup(key, version, cached[1] if fresh else None, stale=stale)


def facets_store(lookup: FacetLookup, query: CatalogQuery, *, counted=None, **kwargs):
    """Count the facets of `query` (or sum `counted`: the (combinations, pairs[, since]) a
    caller already counted, see `counted_with_page`) and cache them with the version they are
    of; with search words alone, also what they were summed from and when (`since`), for
    `facets_patch` after the next write."""
    if kwargs.get("environments") is None:  # the caller had no need of them (the API)
        kwargs["environments"] = list(Environment.objects.all())
    if counted is None:
        counted = _combos_and_pairs(
            query, team_id=kwargs["team_id"], env_id=kwargs["env_id"], version=lookup.version
        )
    result = _facets(query, counted=counted[:2], **kwargs)
    entries = {lookup.key: (lookup.version, result)}
    if len(counted) == 3 and patchable(query):
        entries[f"{lookup.key}:counted"] = counted
    cache.set_many(entries, FACET_CACHE_SECONDS)
    return result


# A patch reads at most this many changes; more (an import) and the counts are recounted.
PATCH_LIMIT = 2000


def patchable(query: CatalogQuery) -> bool:
    """Search words alone (PostgreSQL): counts that `facets_patch` can bring up to date."""
    return (
        connection.vendor == "postgresql"
        and bool(search_tokens(query.q))
        and not (query.team or query.kind or query.lifecycle or query.environment)
        and not (query.status or query.fuzzy)
    )


def facets_patch(lookup: FacetLookup, query: CatalogQuery, **kwargs):
    """The counts of `query` brought up to date from those cached at an older version and the
    changes since (catalog_facet_log, migration 0011), or None (not a patchable query, nothing
    to patch from, too many changes): exact, and instead of recounting every match after each
    write, only the changed services are read."""
    if not patchable(query):
        return None
    stored = cache.get(f"{lookup.key}:counted")
    if stored is None:
        return None
    counted = _patched(query, *stored)
    if counted is None:
        return None
    return facets_store(lookup, query, counted=counted, **kwargs)


def _patched(query: CatalogQuery, combos, pairs, since) -> tuple | None:
    """(combinations, pairs, since) now, from those counted at `since` and the changes it did
    not see, in one statement.

    `since` is the counting statement's snapshot, the largest change id it saw and its own
    transaction's id (if it had one). Unseen: a change of a transaction the snapshot does not
    see, or any change with a larger id (the counting transaction's own later writes; its
    earlier ones were counted, though an xid assigned after the last one to complete is not
    "visible" in its own snapshot)."""
    snapshot, seen, own = since
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH unseen AS (
                -- Two index range scans (an OR of the two read every logged change).
                SELECT id FROM catalog_facet_log WHERE id > %(seen)s
                UNION
                SELECT id FROM catalog_facet_log
                WHERE xid >= pg_snapshot_xmin(%(snapshot)s::pg_snapshot)
                  AND NOT pg_visible_in_snapshot(xid, %(snapshot)s::pg_snapshot)
                  AND xid IS DISTINCT FROM %(own)s::xid8),
            log AS MATERIALIZED (
                SELECT id, service_id, instance_id, inserted, old_owner, old_kind,
                       old_lifecycle, old_document @@ to_tsquery('simple'::regconfig, %(q)s),
                       old_service, old_environment, old_status
                FROM catalog_facet_log WHERE id IN (SELECT id FROM unseen)
                ORDER BY id LIMIT %(limit)s),
            touched AS (SELECT service_id FROM log UNION SELECT old_service FROM log)
            SELECT 0, * FROM log
            UNION ALL
            SELECT 1, id, id, NULL, NULL, owner_id, kind, lifecycle,
                   search_document @@ to_tsquery('simple'::regconfig, %(q)s), NULL, NULL, NULL
            FROM catalog_service WHERE id IN (SELECT service_id FROM touched)
            UNION ALL
            SELECT 2, id, service_id, id, NULL, NULL, NULL, NULL, NULL, NULL, environment_id,
                   status
            FROM catalog_serviceinstance WHERE service_id IN (SELECT service_id FROM touched)
            UNION ALL
            SELECT 3, (SELECT max(id) FROM catalog_facet_log), NULL, NULL,
                   pg_snapshot_xmin(%(snapshot)s::pg_snapshot)
                   >= (SELECT below FROM catalog_facet_log_pruned),
                   NULL, pg_current_snapshot()::text, pg_current_xact_id_if_assigned()::text,
                   NULL, NULL, NULL, NULL
            """,
            {
                "q": tsquery(query.q),
                "snapshot": snapshot,
                "seen": seen,
                "own": own,
                "limit": PATCH_LIMIT,
            },
        )
        rows = cursor.fetchall()
    log = sorted((row for row in rows if row[0] == 0), key=lambda row: row[1])
    meta = next(row for row in rows if row[0] == 3)
    if len(log) >= PATCH_LIMIT or not meta[4]:  # too many changes, or some already pruned
        return None
    since = (meta[6], meta[1] or 0, meta[7])
    if not log:
        return combos, pairs, since
    services_now = {row[1]: row[5:9] for row in rows if row[0] == 1}  # owner, kind, life, match
    instances_now: dict[int, list] = {}
    for row in rows:
        if row[0] == 2:
            instances_now.setdefault(row[2], []).append((row[1], row[10], row[11]))
    # Each changed row as it was when counted: its first change since says what it was.
    service_then: dict[int, tuple | None] = {}
    instance_then: dict[int, tuple | None] = {}
    for (
        _,
        _,
        service_id,
        instance_id,
        inserted,
        owner,
        kind,
        life,
        match,
        old_service,
        env,
        st,
    ) in log:
        if instance_id is None:
            if service_id not in service_then:
                service_then[service_id] = None if inserted else (owner, kind, life, match)
        elif instance_id not in instance_then:
            instance_then[instance_id] = None if inserted else (old_service, env, st)
    instances_then: dict[int, list] = {}
    for then in instance_then.values():
        if then is not None:
            instances_then.setdefault(then[0], []).append((then[1], then[2]))
    touched = {row[2] for row in log} | {row[9] for row in log if row[9] is not None}
    combos_delta, pairs_delta = Counter(), Counter()
    for service_id in touched:
        now = services_now.get(service_id)
        if now is not None and now[3]:
            combos_delta[now[:3]] += 1
            for _, env, status in instances_now.get(service_id, ()):
                pairs_delta[(env, status)] += 1
        then = service_then.get(service_id, now)
        if then is not None and then[3]:
            combos_delta[then[:3]] -= 1
            for instance_id, env, status in instances_now.get(service_id, ()):
                if instance_id not in instance_then:  # unchanged since
                    pairs_delta[(env, status)] -= 1
            for env, status in instances_then.get(service_id, ()):
                pairs_delta[(env, status)] -= 1
    summed = Counter()
    for owner, kind, life, n in combos:
        summed[(owner, kind, life)] += n
    summed.update(combos_delta)
    patched = [(*key, n) for key, n in summed.items() if n > 0]
    new_pairs = Counter(pairs)
    new_pairs.update(pairs_delta)
    return patched, +new_pairs, since


def _combos_and_pairs(query, *, team_id, env_id, version) -> tuple:
    """(team, kind, lifecycle) combinations of the services that pass the search and instance
    filters, and (environment, status) pairs of the instances of the services that pass the
    column filters.

    With search words (or a status filter across environments: "has *some* failed instance"),
    two grouped queries over the matching services (the search's GIN index finds them).
    Otherwise sums over the catalog-wide `Cube`.
    """
    # Search words, or a status across environments ("has *some* failed instance"), or a
    # specific status in one environment: grouped queries over the matching services.
    if query.q or query.status:
        return _from_queries(query, team_id=team_id, env_id=env_id)
    cube = _cube(version)
    deployed = _deployed(version, env_id) if query.environment else ()
    return _from_cube(query, cube, deployed, team_id=team_id, env_id=env_id)


def _from_queries(query, *, team_id, env_id) -> tuple:
    base = Service.objects.filter(
        service_q(query, team_id=team_id, skip=("team", "kind", "lifecycle"))
    )
    base = with_instance_filter(base, query, env_id)
    column_q = service_q(query, team_id=team_id)
    # Words alone (the usual search): both counts are over the same services.
    only_words = not (query.team or query.kind or query.lifecycle or query.environment)
    if connection.vendor == "postgresql" and only_words and not query.status:
        return _counted_together(base)
    combos = list(
        base.values_list("owner_id", "kind", "lifecycle").annotate(n=Count("*")).order_by()
    )
    instances = ServiceInstance.objects.all()
    if column_q:
        instances = _instances_of(Service.objects.filter(column_q))
    grouped = instances.values_list("environment_id", "status").annotate(n=Count("*"))
    pairs = Counter({(env, status): n for env, status, n in grouped.order_by()})
    return combos, pairs


def _instances_of(services: QuerySet) -> QuerySet:
    """The instances of `services`. On PostgreSQL as `service_id = ANY(ARRAY(...))`, so it
    probes the service_id index for the matching services; `IN (subquery)` made it hash-join a
    scan of every instance (it expects far fewer matches of a search than there are)."""
    if connection.vendor != "postgresql":
        return ServiceInstance.objects.filter(service__in=services.values("pk"))
    condition = Func(
        F("service_id"),
        ArraySubquery(services.values("pk")),
        template="%(expressions)s)",
        arg_joiner=" = ANY(",
        output_field=BooleanField(),
    )
    return ServiceInstance.objects.filter(condition)


def _counted_together(matching: QuerySet) -> tuple[list, Counter, tuple]:
    """Combinations and pairs of the same matching services in one statement (PostgreSQL):
    the search's index is read once, and one round trip instead of two."""
    combos, pairs, _, since = counted_with_page(matching.annotate(rank=Value(0.0)), limit=0)
    return combos, pairs, since


def one_pass(query: CatalogQuery) -> bool:
    """True when a search's first page and its counts can come from one statement: words
    alone on PostgreSQL (as `_counted_together`), best match first, no cursor."""
    return (
        connection.vendor == "postgresql"
        and bool(query.q)
        and not (query.team or query.kind or query.lifecycle or query.environment)
        and not (query.status or query.fuzzy or query.after)
        and query.order == "relevance"
    )


def counted_with_page(matching: QuerySet, *, limit: int) -> tuple[list, Counter, list, tuple]:
    """The combinations and (environment, status) pairs of `matching` (services annotated with
    `rank`), the (pk, rank) of its first `limit` by rank then slug, and when they were counted
    (the statement's snapshot and the largest change id it saw in catalog_facet_log: what
    `facets_patch` needs), in one statement: the search's GIN index and the matches' rows are
    read once for the page and its counts (a search that matches 13 % of 50,000 services spent
    most of its time reading them twice)."""
    sql, params = (
        matching.order_by()
        .values_list("pk", "owner_id", "kind", "lifecycle", "slug", "rank")
        .query.sql_with_params()
    )
    page = ""
    if limit:
        page = f"""
            UNION ALL
            (SELECT 2, id, NULL, NULL, NULL, NULL, NULL, rank FROM matching
             ORDER BY rank DESC, slug LIMIT {int(limit)})"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH matching (id, owner_id, kind, lifecycle, slug, rank) AS MATERIALIZED ({sql})
            SELECT 0, owner_id, kind, lifecycle, NULL::bigint, NULL, count(*), NULL::float8
            FROM matching GROUP BY 2, 3, 4
            UNION ALL
            SELECT 1, NULL, NULL, NULL, environment_id, status, count(*), NULL
            FROM catalog_serviceinstance
            WHERE service_id = ANY(ARRAY(SELECT id FROM matching))
            GROUP BY 5, 6
            UNION ALL
            SELECT 3, (SELECT max(id) FROM catalog_facet_log), pg_current_snapshot()::text,
                   pg_current_xact_id_if_assigned()::text, NULL, NULL, NULL, NULL{page}
            """,  # noqa: S608 — the ORM's own SQL for `matching`, its values as parameters
            params,
        )
        rows = cursor.fetchall()
    combos = [(owner, kind, life, n) for part, owner, kind, life, _, _, n, _ in rows if part == 0]
    pairs = Counter({(env, status): n for part, *_, env, status, n, _ in rows if part == 1})
    found = [(pk, rank) for part, pk, *_, rank in rows if part == 2]
    since = next((snap, seen or 0, own) for part, seen, snap, own, *_ in rows if part == 3)
    return combos, pairs, found, since


def _from_cube(query, cube: Cube, deployed: tuple, *, team_id, env_id) -> tuple[list, Counter]:
    """The same sums from the cube (no status filter; `deployed` for an environment filter)."""
    combos = list(deployed) if query.environment else list(cube.services)
    if query.team:  # the instances of one team's services: one small indexed query
        grouped = ServiceInstance.objects.filter(service__owner_id=team_id).values_list(
            "service__kind", "service__lifecycle", "environment_id", "status"
        )
        instances = tuple(grouped.annotate(n=Count("*")).order_by())
    else:
        instances = cube.instances
    pairs = Counter()
    for kind, lifecycle, environment_id, status, n in instances:
        if query.kind and kind != query.kind:
            continue
        if query.lifecycle and lifecycle != query.lifecycle:
            continue
        pairs[(environment_id, status)] += n
    return combos, pairs


def _facets(query, *, team, team_id, environments, env_id, counted) -> tuple[list[Facet], int]:
    """Team, kind, lifecycle, environment and status facets, plus the total of matching rows,
    from `counted`: (combinations, pairs) of `_combos_and_pairs`."""
    # 1. Column facets: the combinations summed per facet.
    combos, pairs = counted
    by_team, by_kind, by_lifecycle = Counter(), Counter(), Counter()
    for owner_id, kind, lifecycle, n in combos:
        team_ok = not query.team or owner_id == team_id
        kind_ok = not query.kind or kind == query.kind
        life_ok = not query.lifecycle or lifecycle == query.lifecycle
        if kind_ok and life_ok:
            by_team[owner_id] += n
        if team_ok and life_ok:
            by_kind[kind] += n
        if team_ok and kind_ok:
            by_lifecycle[lifecycle] += n
    # Every service has one kind, so the kind counts add up to the matching total.
    total = by_kind[query.kind] if query.kind else sum(by_kind.values())

    # 2. Instance facets.
    wanted = (query.status,) if query.status else DEPLOYED
    by_env = {env.pk: sum(pairs[(env.pk, s)] for s in wanted) for env in environments}
    # Status counts are service-environments ("Failed 3": three deployments of matching
    # services are failed), read from the same pairs: counting distinct services per status
    # was the slowest query of the page at 50,000 services.
    if query.environment:
        by_status = {s: pairs[(env_id, s)] for s in ServiceInstance.Status.values}
    else:
        by_status = Counter()
        for (_env, status), n in pairs.items():
            by_status[status] += n

    facets = [
        _team_facet(query, by_team, team),
        Facet(
            "kind",
            "Kind",
            [
                FacetOption(value, label, by_kind[value], query.kind == value)
                for value, label in Service.Kind.choices
            ],
        ),
        Facet(
            "lifecycle",
            "Lifecycle",
            [
                FacetOption(value, label, by_lifecycle[value], query.lifecycle == value)
                for value, label in Service.Lifecycle.choices
            ],
        ),
        Facet(
            "environment",
            "Deployed to",
            [
                FacetOption(env.slug, env.name, by_env[env.pk], query.environment == env.slug)
                for env in environments
            ],
        ),
        Facet(
            "status",
            "Status (per environment)",
            [
                FacetOption(value, label, by_status.get(value, 0), query.status == value)
                for value, label in ServiceInstance.Status.choices
            ],
        ),
    ]
    return facets, total


def _team_facet(query: CatalogQuery, by_team: Counter, team: Team | None) -> Facet:
    top = [pk for pk, _ in by_team.most_common(TEAM_FACET_LIMIT)]
    if team and team.pk not in top:
        top.append(team.pk)
    labels = {
        pk: (slug, name)
        for pk, slug, name in Team.objects.filter(pk__in=top).values_list("pk", "slug", "name")
    }
    options = [
        FacetOption(labels[pk][0], labels[pk][1], by_team[pk], query.team == labels[pk][0])
        for pk in top
        if pk in labels
    ]
    if query.team and team is None:
        options.append(FacetOption(query.team, query.team, 0, True))
    return Facet("team", "Team", options, hidden=max(0, len(by_team) - len(top)))
