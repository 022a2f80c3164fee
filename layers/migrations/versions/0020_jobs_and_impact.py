"""Long work as jobs, and plan impact results (issue 15).

- jobs: OGC API Processes asynchronous execution backed by the database, so any worker answers a client's poll
  and a runner process (`urbasig jobs work`) executes what was accepted. The job id is a random UUID (a
  capability: who holds it may poll, read and dismiss); `client` is a hash of who submitted it (API key or
  address), used only to bound how many jobs one client keeps queued — never shown.
- impact_runs / impact_parcels: what one plan version changes against another over an area, per parcel
  (zone, maximum floor area, uses, area newly reserved or newly in a widening, buildable before and after),
  kept so the map and the OGC collection `plan-impact` can show the latest run of a plan pair. No geometry is
  copied: the view `plan_impact` joins the parcels. Land references are public; owners are never read.
  Writing either table bumps its layer version (trigger bump_layer_version, as on every layer table): the tiles
  and extents of `plan-impact` are keyed on them, so publishing a run invalidates the cached tiles.
- check_results may hold kind 'envelope': every buildable envelope computed through the API is kept with its
  request, like the checks (instruction/envelope.py stored_envelope).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from alembic import op

from layers.roles import grants_sql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

JOB_COLUMNS = ("status, message, progress, started_at, finished_at, updated_at, heartbeat_at, worker, attempts, result, "
               "error")
APP_GRANTS = {
    # the web server accepts jobs, answers polls and dismisses; the runner (same role) claims and finishes them
    "jobs": f"SELECT, INSERT, UPDATE ({JOB_COLUMNS}), DELETE",
    "impact_runs": "SELECT, INSERT, UPDATE (status, parcels, summary, finished_at, published), DELETE",
    "impact_parcels": "SELECT, INSERT, DELETE",
    "plan_impact": "SELECT",
}
CHECK_KINDS = "'instruction', 'permit', 'subdivision', 'licence'"  # check_results.kind before 0020 (0002)


def upgrade() -> None:
    """jobs, impact_runs, impact_parcels, the plan_impact view and their grants."""
    op.execute(TABLES_SQL.replace("{INTEGRITY}", INTEGRITY_SQL))
    for table in ("impact_runs", "impact_parcels"):  # the plan-impact tiles' cache follows them (layers/catalog.py)
        op.execute(f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION bump_layer_version()")
    op.execute(grants_sql(APP_GRANTS))
    op.execute("ALTER TABLE check_results DROP CONSTRAINT check_results_kind_check, ADD CONSTRAINT "
               f"check_results_kind_check CHECK (kind IN ({CHECK_KINDS}, 'envelope'))")


TABLES_SQL = """
    CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        process text NOT NULL CHECK (process ~ '^[a-z][a-z0-9-]*$'),
        inputs jsonb NOT NULL,
        status text NOT NULL DEFAULT 'accepted'
            CHECK (status IN ('accepted', 'running', 'successful', 'failed', 'dismissed')),
        message text,
        progress smallint CHECK (progress BETWEEN 0 AND 100),
        client text,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz,
        worker text,
        attempts smallint NOT NULL DEFAULT 0,
        result jsonb,
        error text,
        code_version text
    );
    COMMENT ON TABLE jobs IS 'OGC API Processes jobs: accepted by any web worker, executed by urbasig jobs work';
    CREATE INDEX jobs_queue_idx ON jobs (created_at) WHERE status = 'accepted';
    CREATE INDEX jobs_client_idx ON jobs (client, status);
    CREATE INDEX jobs_running_idx ON jobs (heartbeat_at) WHERE status = 'running';
    COMMENT ON COLUMN jobs.attempts IS 'Runs started: a job whose runner died is requeued until URBASIG_JOBS_MAX_ATTEMPTS';
    COMMENT ON COLUMN jobs.result IS 'successful: the process result; failed: the OGC exception {type, status, code, '
                                     'description}; dismissed: NULL';
    REVOKE ALL ON jobs FROM PUBLIC;

    CREATE TABLE impact_runs (
        id bigserial PRIMARY KEY,
        job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
        from_plan_id integer NOT NULL REFERENCES plans(id),
        to_plan_id integer NOT NULL REFERENCES plans(id),
        area text,
        status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
        published boolean NOT NULL DEFAULT false,
        parcels integer,
        summary jsonb,
        provenance jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        CHECK (from_plan_id <> to_plan_id)
    );
    COMMENT ON COLUMN impact_runs.area IS 'Commune or arrondissement code the run covered; NULL: both plans wholly';
    COMMENT ON COLUMN impact_runs.published IS 'Shown on the map and in the plan-impact collection';
    CREATE UNIQUE INDEX impact_runs_published_idx ON impact_runs (from_plan_id, to_plan_id) WHERE published;
    REVOKE ALL ON impact_runs FROM PUBLIC;

    CREATE TABLE impact_parcels (
        run_id bigint NOT NULL,
        parcel_id bigint NOT NULL,
        commune_code text,
        zone_before text,
        zone_after text,
        zones_before smallint,
        zones_after smallint,
        floor_before_m2 double precision,
        floor_after_m2 double precision,
        floor_delta_m2 double precision,
        uses_gained text[] NOT NULL DEFAULT '{}',
        uses_lost text[] NOT NULL DEFAULT '{}',
        reserved_new_m2 double precision NOT NULL DEFAULT 0,
        widening_new_m2 double precision NOT NULL DEFAULT 0,
        buildable_before boolean,
        buildable_after boolean,
        change text NOT NULL CHECK (change IN ('gain', 'loss', 'unchanged', 'reserved')),
        PRIMARY KEY (run_id, parcel_id)
    );
    COMMENT ON COLUMN impact_parcels.zone_before IS 'Code of the zone covering the largest share of the parcel';
    COMMENT ON COLUMN impact_parcels.zones_before IS 'Zones (not marginal) the parcel lies in: more than 1 = split';
    COMMENT ON COLUMN impact_parcels.change IS 'Map colour: reserved (newly reserved or in a widening) wins over '
                                              'gain / loss of maximum floor area';
    REVOKE ALL ON impact_parcels FROM PUBLIC;
    CREATE INDEX impact_parcels_parcel_idx ON impact_parcels (parcel_id);
    {INTEGRITY}

    CREATE VIEW plan_impact AS
    SELECT i.run_id, i.parcel_id AS id, p.land_ref, i.commune_code, i.zone_before, i.zone_after,
           i.zones_before, i.zones_after,
           i.floor_before_m2, i.floor_after_m2, i.floor_delta_m2, i.uses_gained, i.uses_lost,
           i.reserved_new_m2, i.widening_new_m2, i.buildable_before, i.buildable_after, i.change,
           fp.code AS from_plan, tp.code AS to_plan, p.geom
    FROM impact_parcels i
    JOIN impact_runs r ON r.id = i.run_id AND r.published
    JOIN parcels p ON p.id = i.parcel_id
    JOIN plans fp ON fp.id = r.from_plan_id
    JOIN plans tp ON tp.id = r.to_plan_id;
    COMMENT ON VIEW plan_impact IS 'Published plan impact runs per parcel (no owner, no personal data)';
    REVOKE ALL ON plan_impact FROM PUBLIC;
"""

# impact_parcels' references to its run and its parcel, kept by statement-level triggers rather than foreign keys:
# a run writes up to a million rows at once, and a foreign key checks (and locks) each row on its own (~13 µs a
# row, a fifth of the run). The same guarantees, once per statement: an insert whose run or parcel does not exist
# fails (foreign_key_violation) and takes the same KEY SHARE locks a foreign key would (a parcel cannot be deleted
# under a run that is writing it); deleting a run or a parcel deletes its rows (ON DELETE CASCADE as before).
# An UPDATE of parcels.id is refused while rows refer to it (a foreign key's NO ACTION on update); the rows
# themselves are never updated (the server has no UPDATE on them).
INTEGRITY_SQL = """
    CREATE FUNCTION impact_parcels_refs() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    DECLARE wanted bigint; found bigint;
    BEGIN
        SELECT count(DISTINCT run_id) INTO wanted FROM new_rows;
        SELECT count(*) INTO found FROM (SELECT 1 FROM public.impact_runs
            WHERE id IN (SELECT run_id FROM new_rows) FOR KEY SHARE) r;
        IF found < wanted THEN
            RAISE foreign_key_violation USING MESSAGE = 'impact_parcels: run_id absent de impact_runs';
        END IF;
        SELECT count(DISTINCT parcel_id) INTO wanted FROM new_rows;
        SELECT count(*) INTO found FROM (SELECT 1 FROM public.parcels
            WHERE id IN (SELECT parcel_id FROM new_rows) FOR KEY SHARE) p;
        IF found < wanted THEN
            RAISE foreign_key_violation USING MESSAGE = 'impact_parcels: parcel_id absent de parcels';
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER impact_parcels_refs AFTER INSERT ON impact_parcels REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION impact_parcels_refs();

    CREATE FUNCTION impact_parcels_cascade() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    BEGIN
        IF TG_TABLE_NAME = 'impact_runs' THEN
            DELETE FROM public.impact_parcels WHERE run_id IN (SELECT id FROM old_rows);
        ELSE
            DELETE FROM public.impact_parcels WHERE parcel_id IN (SELECT id FROM old_rows);
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER impact_parcels_cascade AFTER DELETE ON impact_runs REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION impact_parcels_cascade();
    CREATE TRIGGER impact_parcels_cascade AFTER DELETE ON parcels REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION impact_parcels_cascade();

    CREATE FUNCTION impact_parcels_keep_ids() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM public.impact_parcels WHERE parcel_id = OLD.id) THEN
            RAISE foreign_key_violation USING MESSAGE = 'parcels: id ' || OLD.id || ' référencé par impact_parcels';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER impact_parcels_keep_ids BEFORE UPDATE OF id ON parcels FOR EACH ROW WHEN (OLD.id <> NEW.id)
        EXECUTE FUNCTION impact_parcels_keep_ids();
"""


def downgrade() -> None:
    """Back to 0019."""
    op.execute("DELETE FROM check_results WHERE kind = 'envelope'; ALTER TABLE check_results DROP CONSTRAINT "
               f"check_results_kind_check, ADD CONSTRAINT check_results_kind_check CHECK (kind IN ({CHECK_KINDS}))")
    op.execute("DROP TRIGGER IF EXISTS impact_parcels_cascade ON parcels; DROP TRIGGER IF EXISTS "
               "impact_parcels_keep_ids ON parcels; DROP VIEW IF EXISTS plan_impact; DROP TABLE IF EXISTS "
               "impact_parcels; DROP TABLE IF EXISTS impact_runs; DROP TABLE IF EXISTS jobs; DROP FUNCTION IF EXISTS "
               "impact_parcels_refs(); DROP FUNCTION IF EXISTS impact_parcels_cascade(); DROP FUNCTION IF EXISTS "
               "impact_parcels_keep_ids();")
