"""Foundation: communes, parcels and owners, versioned plans, zones, prescriptions, SDAU, roads, registry.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PLAN_STATUSES = "'etude', 'enquete_publique', 'homologue', 'remplace', 'abroge', 'annule'"
PRESCRIPTION_KINDS = (
    "'road_widening', 'new_road', 'alignment', 'facility_reservation', 'green_space', 'non_aedificandi', "
    "'heritage_perimeter', 'flood_zone', 'utility_corridor', 'rail_setback', 'motorway_setback', "
    "'maritime_domain', 'cemetery_buffer', 'other'"
)
COEF_MEANINGS = "'emprise', 'plancher'"
LAYER_TABLES = ("communes", "parcels", "plans", "zones", "prescriptions", "sdau_zones", "roads", "establishments")

UPGRADE = f"""
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE imports (
    id bigserial PRIMARY KEY,
    layer text NOT NULL,
    source_path text,
    source_layer text,
    source_crs text,
    feature_count integer NOT NULL DEFAULT 0,
    repaired_count integer NOT NULL DEFAULT 0,
    plan_id integer,
    mapping jsonb NOT NULL DEFAULT '{{}}',
    options jsonb NOT NULL DEFAULT '{{}}',
    code_version text,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
COMMENT ON TABLE imports IS 'Provenance: every file import (or sample load) and what it wrote';

CREATE TABLE communes (
    code text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('commune', 'arrondissement')),
    prefecture text NOT NULL,
    prefecture_kind text NOT NULL CHECK (prefecture_kind IN ('préfecture', 'province')),
    import_id bigint REFERENCES imports(id),
    geom geometry(MultiPolygon, 26191) NOT NULL
);

CREATE TABLE parcels (
    id bigserial PRIMARY KEY,
    ref_kind text NOT NULL CHECK (ref_kind IN ('TF', 'R', 'NI')),
    ref_number integer CHECK (ref_number > 0),
    ref_suffix text,
    land_ref text GENERATED ALWAYS AS (
        CASE WHEN ref_kind = 'NI' THEN NULL
             ELSE ref_kind || ' ' || ref_number::text || COALESCE('/' || ref_suffix, '') END) STORED,
    ref_text text,
    legal_area_m2 numeric(14, 2) CHECK (legal_area_m2 >= 0),
    area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom)) STORED,
    commune_code text REFERENCES communes(code),
    address text,
    import_id bigint REFERENCES imports(id),
    geom geometry(MultiPolygon, 26191) NOT NULL,
    CHECK (ref_kind = 'NI' OR ref_number IS NOT NULL)
);
COMMENT ON COLUMN parcels.land_ref IS 'Normalised land reference (TF 3875/C, R 1234/C); NULL when untitled';
COMMENT ON COLUMN parcels.ref_text IS 'The reference as written in the source';
COMMENT ON COLUMN parcels.legal_area_m2 IS 'Area stated by the title (contenance), m²';
COMMENT ON COLUMN parcels.area_m2 IS 'Area computed from the geometry in EPSG:26191, m²';
CREATE UNIQUE INDEX parcels_land_ref_key ON parcels (land_ref) WHERE land_ref IS NOT NULL;
CREATE INDEX parcels_commune_idx ON parcels (commune_code);

-- Personal data: never granted to the public role.
CREATE TABLE parcel_owners (
    id bigserial PRIMARY KEY,
    parcel_id bigint NOT NULL REFERENCES parcels(id) ON DELETE CASCADE,
    full_name text NOT NULL,
    id_number text,
    share text,
    standing text NOT NULL DEFAULT 'propriétaire'
);
CREATE INDEX parcel_owners_parcel_idx ON parcel_owners (parcel_id);

CREATE TABLE plans (
    id serial PRIMARY KEY,
    code text NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('PA', 'SDAU', 'PS', 'PZ', 'PDAR', 'autre')),
    name text NOT NULL,
    status text NOT NULL CHECK (status IN ({PLAN_STATUSES})),
    status_date date NOT NULL,
    approval_act text,
    approval_date date,
    valid_from date,
    valid_to date,
    replaces_id integer REFERENCES plans(id),
    commune_codes text[] NOT NULL DEFAULT '{{}}',
    notes text,
    import_id bigint REFERENCES imports(id),
    perimeter geometry(MultiPolygon, 26191),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from),
    CHECK (replaces_id IS NULL OR replaces_id <> id)
);
COMMENT ON COLUMN plans.valid_from IS 'First day the plan applies (usually homologation); NULL while never in force';
COMMENT ON COLUMN plans.valid_to IS 'First day it no longer applies (replaced, repealed, annulled)';

CREATE TABLE plan_statuses (
    plan_id integer NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    status text NOT NULL CHECK (status IN ({PLAN_STATUSES})),
    effective_date date NOT NULL,
    act text,
    note text,
    PRIMARY KEY (plan_id, effective_date, status)
);
COMMENT ON TABLE plan_statuses IS 'Every status a plan went through, with its date and act';

-- The status of a plan on a given day (NULL before its first status).
CREATE FUNCTION plan_status_on(p_plan integer, p_day date) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT status FROM plan_statuses
    WHERE plan_id = p_plan AND effective_date <= p_day
    ORDER BY effective_date DESC, array_position(ARRAY[{PLAN_STATUSES}], status) DESC
    LIMIT 1
$$;

CREATE TABLE zones (
    id bigserial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    code text NOT NULL,
    sector text,
    label text,
    dominant_use text,
    height_max_m numeric(6, 2) CHECK (height_max_m >= 0),
    storeys_max smallint CHECK (storeys_max >= 0),
    footprint_max_pct numeric(5, 2) CHECK (footprint_max_pct BETWEEN 0 AND 100),
    cos_value numeric(5, 2) CHECK (cos_value >= 0),
    cos_meaning text CHECK (cos_meaning IN ({COEF_MEANINGS})),
    cus_value numeric(5, 2) CHECK (cus_value >= 0),
    cus_meaning text CHECK (cus_meaning IN ({COEF_MEANINGS})),
    min_plot_area_m2 numeric(10, 2) CHECK (min_plot_area_m2 >= 0),
    min_frontage_m numeric(7, 2) CHECK (min_frontage_m >= 0),
    setback_road_m numeric(6, 2) CHECK (setback_road_m >= 0),
    setback_side_m numeric(6, 2) CHECK (setback_side_m >= 0),
    setback_rear_m numeric(6, 2) CHECK (setback_rear_m >= 0),
    continuous_frontage boolean,
    uses_allowed text[] NOT NULL DEFAULT '{{}}',
    uses_forbidden text[] NOT NULL DEFAULT '{{}}',
    uses_conditional text[] NOT NULL DEFAULT '{{}}',
    conditional_rules jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(conditional_rules) = 'array'),
    regulation_article text,
    regulation_text text,
    import_id bigint REFERENCES imports(id),
    geom geometry(MultiPolygon, 26191) NOT NULL,
    CHECK (cos_value IS NULL OR cos_meaning IS NOT NULL),
    CHECK (cus_value IS NULL OR cus_meaning IS NOT NULL)
);
COMMENT ON COLUMN zones.storeys_max IS 'n of R+n: storeys above the ground floor';
COMMENT ON COLUMN zones.cos_meaning IS 'emprise = footprint ratio, plancher = floor-area ratio (plans use COS for both)';
COMMENT ON COLUMN zones.conditional_rules IS
    'Rules that depend on conditions: [{{"parameter", "value", "when": {{"road_width_min_m", ...}}, "article"}}]';
CREATE INDEX zones_plan_idx ON zones (plan_id, code);

CREATE TABLE prescriptions (
    id bigserial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ({PRESCRIPTION_KINDS})),
    code text,
    label text,
    width_m numeric(7, 2) CHECK (width_m >= 0),
    facility_code text,
    facility_label text,
    road_name text,
    attributes jsonb NOT NULL DEFAULT '{{}}',
    import_id bigint REFERENCES imports(id),
    geom geometry(Geometry, 26191) NOT NULL,
    CHECK (GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON', 'LINESTRING', 'MULTILINESTRING', 'POINT', 'MULTIPOINT'))
);
CREATE INDEX prescriptions_plan_idx ON prescriptions (plan_id, kind);

CREATE TABLE sdau_zones (
    id bigserial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    code text NOT NULL,
    label text,
    destination text,
    import_id bigint REFERENCES imports(id),
    geom geometry(MultiPolygon, 26191) NOT NULL
);
CREATE INDEX sdau_zones_plan_idx ON sdau_zones (plan_id);

CREATE TABLE roads (
    id bigserial PRIMARY KEY,
    name text,
    width_m numeric(7, 2) CHECK (width_m >= 0),
    status text NOT NULL DEFAULT 'existante' CHECK (status IN ('existante', 'projetée')),
    commune_code text REFERENCES communes(code),
    import_id bigint REFERENCES imports(id),
    geom geometry(MultiPolygon, 26191) NOT NULL
);
COMMENT ON TABLE roads IS 'Existing public road space (voirie); plan roads are prescriptions';

CREATE TABLE establishments (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    name text,
    address text,
    status text NOT NULL DEFAULT 'ouvert' CHECK (status IN ('ouvert', 'fermé', 'demande')),
    opened_on date,
    closed_on date,
    filed_at timestamptz,
    commune_code text REFERENCES communes(code),
    import_id bigint REFERENCES imports(id),
    geom geometry(Point, 26191) NOT NULL
);
CREATE INDEX establishments_kind_idx ON establishments (kind, status);

CREATE TABLE meta (
    key text PRIMARY KEY,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- When each layer last changed: cache invalidation and the data timestamp of legal outputs.
CREATE TABLE layer_versions (
    layer text PRIMARY KEY,
    version bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION bump_layer_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO layer_versions AS lv (layer, version, changed_at) VALUES (TG_TABLE_NAME, 1, clock_timestamp())
    ON CONFLICT (layer) DO UPDATE SET version = lv.version + 1, changed_at = clock_timestamp();
    RETURN NULL;
END $$;
"""

GRANTS = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'urbasig_public') THEN
        CREATE ROLE urbasig_public NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'role urbasig_public not created (no CREATEROLE): create it by hand';
END $$;
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'urbasig_public') THEN
        REVOKE ALL ON parcel_owners FROM PUBLIC;
        GRANT USAGE ON SCHEMA public TO urbasig_public;
        GRANT SELECT ON communes, parcels, plans, plan_statuses, zones, prescriptions, sdau_zones, roads,
            establishments, layer_versions TO urbasig_public;
    END IF;
END $$;
"""


def upgrade() -> None:
    """Create the foundation schema."""
    op.execute(UPGRADE)
    for table in LAYER_TABLES:
        op.execute(f"CREATE INDEX {table}_geom_gist ON {table} USING gist ({'perimeter' if table == 'plans' else 'geom'})")
        op.execute(f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION bump_layer_version()")
    op.execute(GRANTS)


def downgrade() -> None:
    """Drop the foundation schema (the cluster-wide role urbasig_public is left for other databases)."""
    op.execute("""
        DROP TABLE IF EXISTS layer_versions, meta, establishments, roads, sdau_zones, prescriptions, zones,
            plan_statuses, plans, parcel_owners, parcels, communes, imports CASCADE;
        DROP FUNCTION IF EXISTS bump_layer_version();
        DROP FUNCTION IF EXISTS plan_status_on(integer, date);
    """)
