"""Catalog-wide filter counts kept by PostgreSQL itself (catalog.facets reads them).

Statement-level triggers on catalog_service and catalog_serviceinstance add each statement's
changes, summed per key, to three small count tables (INSERT ... ON CONFLICT DO UPDATE SET
n = n + delta), whatever wrote the rows: the catalog services, the admin, an import's bulk
inserts, the deployment engine's conditional UPDATEs, raw SQL, the deletes of a service's
instances. Keys whose count falls to 0 stay, and readers skip them.

- catalog_facet_services: (owner_id, kind, lifecycle) → services.
- catalog_facet_instances: (kind, lifecycle, environment_id, status) → instances.
- catalog_facet_deployed: (environment_id, owner_id, kind, lifecycle) → instances in a
  deployed status (catalog.filters.DEPLOYED), i.e. services deployed there.
- catalog_facet_clock: 32 slots of two counters (services, instances) that every counted write
  adds one to, in the slot of its connection (pg_backend_pid() % 32), so that concurrent
  writers rarely wait on the same row. The sums only grow with each committed write: readers
  keep what they read under them (catalog.facets.counts_version).

An instance's counts depend on its service's kind, lifecycle and owner: the instance trigger
reads them FOR SHARE (a service update waits for it, or it for the update, so neither misses
the other), and a service whose kind, lifecycle or owner changes moves its instances' counts.
Instance updates that change no status, environment or service (resources, applied_spec) do
nothing. Keys are written in sorted order, so two writers never lock them in opposite orders.

PostgreSQL only. On SQLite (development) catalog.facets counts with grouped queries instead.
"""

from django.db import migrations

DEPLOYED = "('healthy', 'deploying', 'failed', 'drifted')"  # catalog.filters.DEPLOYED
SLOTS = 32

TABLES = """
CREATE TABLE catalog_facet_services (
    owner_id bigint NOT NULL, kind varchar(20) NOT NULL, lifecycle varchar(20) NOT NULL,
    n integer NOT NULL, PRIMARY KEY (owner_id, kind, lifecycle));
CREATE TABLE catalog_facet_instances (
    kind varchar(20) NOT NULL, lifecycle varchar(20) NOT NULL, environment_id bigint NOT NULL,
    status varchar(20) NOT NULL, n integer NOT NULL,
    PRIMARY KEY (kind, lifecycle, environment_id, status));
CREATE TABLE catalog_facet_deployed (
    environment_id bigint NOT NULL, owner_id bigint NOT NULL, kind varchar(20) NOT NULL,
    lifecycle varchar(20) NOT NULL, n integer NOT NULL,
    PRIMARY KEY (environment_id, owner_id, kind, lifecycle));
CREATE TABLE catalog_facet_clock (
    slot smallint PRIMARY KEY, services bigint NOT NULL, instances bigint NOT NULL);
"""


# Adds the instance deltas of `deltas` (kind, lifecycle, environment_id, status, owner_id, n)
# to the instance and deployed counts, in one statement; `before`: CTEs that `deltas` reads.
def add_instance_deltas(deltas: str, before: str = "") -> str:
    return f"""
    WITH {before} deltas AS MATERIALIZED ({deltas}),
    added AS (
        INSERT INTO catalog_facet_instances AS t (kind, lifecycle, environment_id, status, n)
        SELECT kind, lifecycle, environment_id, status, sum(n) FROM deltas
        GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (kind, lifecycle, environment_id, status) DO UPDATE SET n = t.n + excluded.n
    )
    INSERT INTO catalog_facet_deployed AS t (environment_id, owner_id, kind, lifecycle, n)
    SELECT environment_id, owner_id, kind, lifecycle, sum(n) FROM deltas
    WHERE status IN {DEPLOYED}
    GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (environment_id, owner_id, kind, lifecycle) DO UPDATE SET n = t.n + excluded.n;
"""


# The services of `rows` (a transition table or a CTE with service_id), read FOR SHARE: the
# values read are the latest committed ones, even after waiting for a service update.
def locked_services(rows: str) -> str:
    return f"""locked AS MATERIALIZED (
        SELECT id, owner_id, kind, lifecycle FROM catalog_service
        WHERE id IN (SELECT service_id FROM {rows}) ORDER BY id FOR SHARE),"""


SERVICES_MOVED = """
    SELECT o.id, o.owner_id AS old_owner, o.kind AS old_kind, o.lifecycle AS old_lifecycle,
           n.owner_id, n.kind, n.lifecycle
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE (o.owner_id, o.kind, o.lifecycle) IS DISTINCT FROM (n.owner_id, n.kind, n.lifecycle)
"""
INSTANCES_MOVED = """
    SELECT o.service_id AS old_service, o.environment_id AS old_environment,
           o.status AS old_status, r.service_id, r.environment_id, r.status
    FROM old_rows o JOIN new_rows r ON r.id = o.id
    WHERE (o.service_id, o.environment_id, o.status)
          IS DISTINCT FROM (r.service_id, r.environment_id, r.status)
"""
SERVICE_INSTANCES_MOVED = add_instance_deltas(
    """
    SELECT m.old_kind AS kind, m.old_lifecycle AS lifecycle, i.environment_id, i.status,
           m.old_owner AS owner_id, -1 AS n
    FROM moved m JOIN catalog_serviceinstance i ON i.service_id = m.id
    UNION ALL
    SELECT m.kind, m.lifecycle, i.environment_id, i.status, m.owner_id, 1
    FROM moved m JOIN catalog_serviceinstance i ON i.service_id = m.id""",
    f"moved AS MATERIALIZED ({SERVICES_MOVED}),",
)
INSTANCES_INSERTED = add_instance_deltas(
    """
    SELECT s.kind, s.lifecycle, r.environment_id, r.status, s.owner_id, 1 AS n
    FROM new_rows r JOIN locked s ON s.id = r.service_id""",
    locked_services("new_rows"),
)
INSTANCES_DELETED = add_instance_deltas(
    """
    SELECT s.kind, s.lifecycle, r.environment_id, r.status, s.owner_id, -1 AS n
    FROM old_rows r JOIN locked s ON s.id = r.service_id""",
    locked_services("old_rows"),
)
INSTANCES_UPDATED = add_instance_deltas(
    """
    SELECT s.kind, s.lifecycle, m.old_environment AS environment_id, m.old_status AS status,
           s.owner_id, -1 AS n
    FROM moves m JOIN locked s ON s.id = m.old_service
    UNION ALL
    SELECT s.kind, s.lifecycle, m.environment_id, m.status, s.owner_id, 1
    FROM moves m JOIN locked s ON s.id = m.service_id""",
    f"""moves AS MATERIALIZED ({INSTANCES_MOVED}),
    touched AS (SELECT old_service AS service_id FROM moves UNION SELECT service_id FROM moves),
    {locked_services("touched")}""",
)


def each_time(sql: str, into: str = "") -> str:
    """`sql` run by EXECUTE, so planned for the transition tables' actual sizes each time: a
    function's static statements keep the plan made on their first run (for 1 row: nested
    loops), which a statement of 45,000 rows then runs in ~45,000^2 comparisons. Whether a
    statement moved anything is a count(*), never EXISTS (its fast-start nested loop runs to
    the end when nothing moved)."""
    return f"EXECUTE $q$ {sql.strip().rstrip(';')} $q${f' INTO {into}' if into else ''};"


SERVICES_MOVED_COUNT = each_time(f"SELECT count(*) FROM ({SERVICES_MOVED}) moved", "moved_count")
SERVICES_MOVED_ADDED = each_time(f"""
    WITH moved AS ({SERVICES_MOVED})
    INSERT INTO catalog_facet_services AS t (owner_id, kind, lifecycle, n)
    SELECT owner_id, kind, lifecycle, sum(n) FROM (
        SELECT old_owner AS owner_id, old_kind AS kind, old_lifecycle AS lifecycle, -1 AS n
        FROM moved
        UNION ALL SELECT owner_id, kind, lifecycle, 1 FROM moved) d
    GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (owner_id, kind, lifecycle) DO UPDATE SET n = t.n + excluded.n""")
SERVICE_INSTANCES_MOVED_ADDED = each_time(SERVICE_INSTANCES_MOVED)
INSTANCES_INSERTED_ADDED = each_time(INSTANCES_INSERTED)
INSTANCES_DELETED_ADDED = each_time(INSTANCES_DELETED)
INSTANCES_MOVED_COUNT = each_time(f"SELECT count(*) FROM ({INSTANCES_MOVED}) moves", "moved_count")
INSTANCES_UPDATED_ADDED = each_time(INSTANCES_UPDATED)

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION catalog_facet_tick(services integer, instances integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE catalog_facet_clock
    SET services = catalog_facet_clock.services + $1,
        instances = catalog_facet_clock.instances + $2
    WHERE slot = pg_backend_pid() % {SLOTS};
$$;

CREATE OR REPLACE FUNCTION catalog_facet_services_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved_count bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO catalog_facet_services AS t (owner_id, kind, lifecycle, n)
        SELECT owner_id, kind, lifecycle, count(*) FROM new_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (owner_id, kind, lifecycle) DO UPDATE SET n = t.n + excluded.n;
        IF FOUND THEN PERFORM catalog_facet_tick(1, 0); END IF;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO catalog_facet_services AS t (owner_id, kind, lifecycle, n)
        SELECT owner_id, kind, lifecycle, -count(*) FROM old_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (owner_id, kind, lifecycle) DO UPDATE SET n = t.n + excluded.n;
        IF FOUND THEN PERFORM catalog_facet_tick(1, 0); END IF;
    ELSE
        {SERVICES_MOVED_COUNT}
        IF moved_count = 0 THEN
            -- Any update may change what a search finds (name, tags...): a new version.
            IF EXISTS (SELECT 1 FROM new_rows) THEN PERFORM catalog_facet_tick(1, 0); END IF;
            RETURN NULL;
        END IF;
        {SERVICES_MOVED_ADDED}
        -- Their instances move with them.
        {SERVICE_INSTANCES_MOVED_ADDED}
        PERFORM catalog_facet_tick(1, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION catalog_facet_instances_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved_count bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;
        {INSTANCES_INSERTED_ADDED}
    ELSIF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;
        {INSTANCES_DELETED_ADDED}
    ELSE
        -- Updates of resources or applied_spec alone change no count.
        {INSTANCES_MOVED_COUNT}
        IF moved_count = 0 THEN RETURN NULL; END IF;
        {INSTANCES_UPDATED_ADDED}
    END IF;
    PERFORM catalog_facet_tick(0, 1);
    RETURN NULL;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER catalog_facet_services_inserted AFTER INSERT ON catalog_service
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_services_changed();
CREATE TRIGGER catalog_facet_services_updated AFTER UPDATE ON catalog_service
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_services_changed();
CREATE TRIGGER catalog_facet_services_deleted AFTER DELETE ON catalog_service
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_services_changed();
CREATE TRIGGER catalog_facet_instances_inserted AFTER INSERT ON catalog_serviceinstance
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_instances_changed();
CREATE TRIGGER catalog_facet_instances_updated AFTER UPDATE ON catalog_serviceinstance
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_instances_changed();
CREATE TRIGGER catalog_facet_instances_deleted AFTER DELETE ON catalog_serviceinstance
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_instances_changed();
"""

# The counts of the rows already there.
FILL = f"""
INSERT INTO catalog_facet_clock SELECT slot, 0, 0 FROM generate_series(0, {SLOTS - 1}) slot;
INSERT INTO catalog_facet_services
SELECT owner_id, kind, lifecycle, count(*) FROM catalog_service GROUP BY 1, 2, 3;
INSERT INTO catalog_facet_instances
SELECT s.kind, s.lifecycle, i.environment_id, i.status, count(*)
FROM catalog_serviceinstance i JOIN catalog_service s ON s.id = i.service_id GROUP BY 1, 2, 3, 4;
INSERT INTO catalog_facet_deployed
SELECT i.environment_id, s.owner_id, s.kind, s.lifecycle, count(*)
FROM catalog_serviceinstance i JOIN catalog_service s ON s.id = i.service_id
WHERE i.status IN {DEPLOYED} GROUP BY 1, 2, 3, 4;
"""

DROP = """
DROP TRIGGER IF EXISTS catalog_facet_services_inserted ON catalog_service;
DROP TRIGGER IF EXISTS catalog_facet_services_updated ON catalog_service;
DROP TRIGGER IF EXISTS catalog_facet_services_deleted ON catalog_service;
DROP TRIGGER IF EXISTS catalog_facet_instances_inserted ON catalog_serviceinstance;
DROP TRIGGER IF EXISTS catalog_facet_instances_updated ON catalog_serviceinstance;
DROP TRIGGER IF EXISTS catalog_facet_instances_deleted ON catalog_serviceinstance;
DROP FUNCTION IF EXISTS catalog_facet_services_changed();
DROP FUNCTION IF EXISTS catalog_facet_instances_changed();
DROP FUNCTION IF EXISTS catalog_facet_tick(integer, integer);
DROP TABLE IF EXISTS catalog_facet_services, catalog_facet_instances, catalog_facet_deployed,
    catalog_facet_clock;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            # Counts taken while rows change would be wrong from the start.
            cursor.execute("LOCK TABLE catalog_service, catalog_serviceinstance IN SHARE MODE")
            for sql in (TABLES, FUNCTIONS, TRIGGERS, FILL):
                cursor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0009_instance_service_covering_index")]

    operations = [migrations.RunPython(create, drop)]
