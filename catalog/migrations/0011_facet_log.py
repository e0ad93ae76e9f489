"""A log of the catalog's changes since a search counted its facets, so that the next look at
those counts patches them instead of recounting every match (catalog.facets, `_patched`).

Statement-level triggers on catalog_service and catalog_serviceinstance append one row per
changed row (append-only: no two writers ever wait on each other here) with what it was before
the change: a service's team, kind, lifecycle and search document, an instance's service,
environment and status, or `inserted` when it did not exist. Service updates that change none
of those (repo_url, a dependency) and instance updates of resources or applied_spec write
nothing. Each row carries its transaction id: the changes a count taken under a snapshot does
not include are those whose transaction that snapshot does not see (pg_visible_in_snapshot),
plus the counting transaction's own later ones (id above the largest it saw).

Rows older than 10 minutes are pruned now and then by the writers (1 statement in 500); the
xid below which rows may be gone is kept in catalog_facet_log_pruned, and a count older than
that is recounted, never patched from an incomplete log. (Counts are cached for 30 s.)

PostgreSQL only, as 0010.
"""

from django.db import migrations

TABLES = """
CREATE TABLE catalog_facet_log (
    id bigserial PRIMARY KEY,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    service_id bigint NOT NULL,  -- the service the row belongs to now (or last, if deleted)
    instance_id bigint,  -- NULL: the service's own row
    inserted boolean NOT NULL,  -- the row did not exist before
    old_owner bigint, old_kind varchar(20), old_lifecycle varchar(20), old_document tsvector,
    old_service bigint, old_environment bigint, old_status varchar(20));
CREATE INDEX catalog_facet_log_xid ON catalog_facet_log (xid);
CREATE TABLE catalog_facet_log_pruned (
    one boolean PRIMARY KEY DEFAULT true CHECK (one), below xid8 NOT NULL);
INSERT INTO catalog_facet_log_pruned (below) VALUES ('0');
"""

PRUNE = """
CREATE FUNCTION catalog_facet_log_prune() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    pruned numeric;
BEGIN
    -- Only rows of transactions every snapshot taken from now on sees (below its xmin).
    WITH gone AS (
        DELETE FROM catalog_facet_log
        WHERE at < clock_timestamp() - interval '10 minutes'
          AND xid < pg_snapshot_xmin(pg_current_snapshot())
        RETURNING xid)
    SELECT max(xid::text::numeric) INTO pruned FROM gone;
    IF pruned IS NOT NULL THEN
        UPDATE catalog_facet_log_pruned SET below = (pruned + 1)::text::xid8
        WHERE below < (pruned + 1)::text::xid8;
    END IF;
END $$;
"""

FUNCTIONS = """
CREATE OR REPLACE FUNCTION catalog_facet_log_services() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO catalog_facet_log (service_id, inserted) SELECT id, true FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO catalog_facet_log
            (service_id, inserted, old_owner, old_kind, old_lifecycle, old_document)
        SELECT id, false, owner_id, kind, lifecycle, search_document FROM old_rows;
    ELSE
        -- EXECUTE: planned for the transition tables' sizes each time (see 0010, each_time).
        EXECUTE $q$
        INSERT INTO catalog_facet_log
            (service_id, inserted, old_owner, old_kind, old_lifecycle, old_document)
        SELECT o.id, false, o.owner_id, o.kind, o.lifecycle, o.search_document
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.owner_id, o.kind, o.lifecycle, o.search_document)
              IS DISTINCT FROM (n.owner_id, n.kind, n.lifecycle, n.search_document) $q$;
    END IF;
    IF random() < 0.002 THEN PERFORM catalog_facet_log_prune(); END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION catalog_facet_log_instances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO catalog_facet_log (service_id, instance_id, inserted)
        SELECT service_id, id, true FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO catalog_facet_log
            (service_id, instance_id, inserted, old_service, old_environment, old_status)
        SELECT service_id, id, false, service_id, environment_id, status FROM old_rows;
    ELSE
        EXECUTE $q$
        INSERT INTO catalog_facet_log
            (service_id, instance_id, inserted, old_service, old_environment, old_status)
        SELECT r.service_id, r.id, false, o.service_id, o.environment_id, o.status
        FROM old_rows o JOIN new_rows r ON r.id = o.id
        WHERE (o.service_id, o.environment_id, o.status)
              IS DISTINCT FROM (r.service_id, r.environment_id, r.status) $q$;
    END IF;
    IF random() < 0.002 THEN PERFORM catalog_facet_log_prune(); END IF;
    RETURN NULL;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER catalog_facet_log_services_inserted AFTER INSERT ON catalog_service
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_log_services();
CREATE TRIGGER catalog_facet_log_services_updated AFTER UPDATE ON catalog_service
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_log_services();
CREATE TRIGGER catalog_facet_log_services_deleted AFTER DELETE ON catalog_service
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_log_services();
CREATE TRIGGER catalog_facet_log_instances_inserted AFTER INSERT ON catalog_serviceinstance
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_log_instances();
CREATE TRIGGER catalog_facet_log_instances_updated AFTER UPDATE ON catalog_serviceinstance
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_log_instances();
CREATE TRIGGER catalog_facet_log_instances_deleted AFTER DELETE ON catalog_serviceinstance
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_facet_log_instances();
"""

DROP = """
DROP TRIGGER IF EXISTS catalog_facet_log_services_inserted ON catalog_service;
DROP TRIGGER IF EXISTS catalog_facet_log_services_updated ON catalog_service;
DROP TRIGGER IF EXISTS catalog_facet_log_services_deleted ON catalog_service;
DROP TRIGGER IF EXISTS catalog_facet_log_instances_inserted ON catalog_serviceinstance;
DROP TRIGGER IF EXISTS catalog_facet_log_instances_updated ON catalog_serviceinstance;
DROP TRIGGER IF EXISTS catalog_facet_log_instances_deleted ON catalog_serviceinstance;
DROP FUNCTION IF EXISTS catalog_facet_log_services();
DROP FUNCTION IF EXISTS catalog_facet_log_instances();
DROP FUNCTION IF EXISTS catalog_facet_log_prune();
DROP TABLE IF EXISTS catalog_facet_log, catalog_facet_log_pruned;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            for sql in (TABLES, PRUNE, FUNCTIONS, TRIGGERS):
                cursor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0010_facet_counts")]

    operations = [migrations.RunPython(create, drop)]
