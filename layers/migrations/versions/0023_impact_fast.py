"""Plan impact: a distinct outcome outside one plan, references kept without a lock per row, one pair per parcel
in the published view (issue 15).

- impact_parcels.change may be 'outside': the parcel is covered by only one of the two plans, so nothing is
  compared (it was said 'unchanged'); the map and the aggregates say « hors du plan ».
- impact_parcels' reference to its parcel (migration 0020: a statement trigger instead of a foreign key) no longer
  takes FOR KEY SHARE on every parcel written: each such lock writes the parcel's tuple, 1.2 s of a 200,000-parcel
  run. The same guarantee, with a transaction-level advisory lock instead: an insert into impact_parcels holds it
  shared (until its transaction ends) before checking that the parcels exist; deleting parcels or changing a
  parcel's id takes it exclusively before cascading or refusing. So a delete waits for a run being written and
  then deletes its rows, and a run written after an uncommitted delete waits for it and then fails
  (foreign_key_violation) — as with the row locks, at the cost of a parcel delete waiting for any run in progress.
- The view plan_impact (the OGC collection `plan-impact`, its tiles, the land panel) shows each parcel once: with
  the latest published run that covers it. A parcel in two published pairs appeared twice, under the same feature
  id (the parcel's, the id partners join on with `parcels`); an OGC feature id must be unique, and a map colours
  a parcel once. Every pair's rows stay in impact_parcels and in each run's exports.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

CHANGES = "'gain', 'loss', 'unchanged', 'reserved'"  # impact_parcels.change in 0020
LOCK_KEY = "hashtext('urbasig.impact_parcels')::bigint"

REFS_SQL = """
CREATE OR REPLACE FUNCTION impact_parcels_refs() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE wanted bigint; found bigint;
BEGIN
    SELECT count(DISTINCT run_id) INTO wanted FROM new_rows;
    SELECT count(*) INTO found FROM (SELECT 1 FROM public.impact_runs
        WHERE id IN (SELECT run_id FROM new_rows) FOR KEY SHARE) r;
    IF found < wanted THEN
        RAISE foreign_key_violation USING MESSAGE = 'impact_parcels: run_id absent de impact_runs';
    END IF;
    PERFORM pg_advisory_xact_lock_shared({key});  -- a parcel delete waits for this transaction (and it for one)
    -- rows in the order written (a run writes by parcel id): the index probes in order, no distinct to count
    IF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM public.parcels p WHERE p.id = n.parcel_id))
    THEN
        RAISE foreign_key_violation USING MESSAGE = 'impact_parcels: parcel_id absent de parcels';
    END IF;
    RETURN NULL;
END $$;
"""
CASCADE_SQL = """
CREATE OR REPLACE FUNCTION impact_parcels_cascade() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_TABLE_NAME = 'impact_runs' THEN
        DELETE FROM public.impact_parcels WHERE run_id IN (SELECT id FROM old_rows);
    ELSE
        {lock}
        DELETE FROM public.impact_parcels WHERE parcel_id IN (SELECT id FROM old_rows);
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION impact_parcels_keep_ids() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
BEGIN
    {lock}
    IF EXISTS (SELECT 1 FROM public.impact_parcels WHERE parcel_id = OLD.id) THEN
        RAISE foreign_key_violation USING MESSAGE = 'parcels: id ' || OLD.id || ' référencé par impact_parcels';
    END IF;
    RETURN NEW;
END $$;
"""
VIEW_SQL = """
CREATE OR REPLACE VIEW plan_impact AS
SELECT i.run_id, i.parcel_id AS id, p.land_ref, i.commune_code, i.zone_before, i.zone_after,
       i.zones_before, i.zones_after,
       i.floor_before_m2, i.floor_after_m2, i.floor_delta_m2, i.uses_gained, i.uses_lost,
       i.reserved_new_m2, i.widening_new_m2, i.buildable_before, i.buildable_after, i.change,
       fp.code AS from_plan, tp.code AS to_plan, p.geom
FROM impact_parcels i
JOIN impact_runs r ON r.id = i.run_id AND r.published
JOIN parcels p ON p.id = i.parcel_id
JOIN plans fp ON fp.id = r.from_plan_id
JOIN plans tp ON tp.id = r.to_plan_id
{latest};
"""
LATEST = """WHERE NOT EXISTS (SELECT 1 FROM impact_parcels n JOIN impact_runs nr ON nr.id = n.run_id AND nr.published
                  WHERE n.parcel_id = i.parcel_id AND n.run_id > i.run_id)"""
REFS_0020 = REFS_SQL[:REFS_SQL.index("    PERFORM")] + """\
    SELECT count(DISTINCT parcel_id) INTO wanted FROM new_rows;
    SELECT count(*) INTO found FROM (SELECT 1 FROM public.parcels
        WHERE id IN (SELECT parcel_id FROM new_rows) FOR KEY SHARE) p;
    IF found < wanted THEN
        RAISE foreign_key_violation USING MESSAGE = 'impact_parcels: parcel_id absent de parcels';
    END IF;
""" + REFS_SQL[REFS_SQL.index("    RETURN NULL;"):]


def upgrade() -> None:
    """'outside', the advisory lock, one published pair per parcel in plan_impact."""
    op.execute("ALTER TABLE impact_parcels DROP CONSTRAINT impact_parcels_change_check, ADD CONSTRAINT "
               f"impact_parcels_change_check CHECK (change IN ({CHANGES}, 'outside'))")
    op.execute("COMMENT ON COLUMN impact_parcels.change IS 'Map colour: reserved (newly reserved or in a widening) "
               "wins over outside (in one of the two plans only), then gain / loss of maximum floor area'")
    op.execute(REFS_SQL.replace("{key}", LOCK_KEY))
    op.execute(CASCADE_SQL.replace("{lock}", f"PERFORM pg_advisory_xact_lock({LOCK_KEY});  -- after any run writing"))
    op.execute(VIEW_SQL.replace("{latest}", LATEST))


def downgrade() -> None:
    """Back to 0022."""
    op.execute(VIEW_SQL.replace("{latest}", ""))
    op.execute(CASCADE_SQL.replace("{lock}", ""))
    op.execute(REFS_0020)
    op.execute("UPDATE impact_parcels SET change = 'unchanged' WHERE change = 'outside'")
    op.execute("ALTER TABLE impact_parcels DROP CONSTRAINT impact_parcels_change_check, ADD CONSTRAINT "
               f"impact_parcels_change_check CHECK (change IN ({CHANGES}))")
    op.execute("COMMENT ON COLUMN impact_parcels.change IS 'Map colour: reserved (newly reserved or in a widening) "
               "wins over gain / loss of maximum floor area'")
