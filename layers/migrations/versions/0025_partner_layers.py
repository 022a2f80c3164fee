"""Partner layers (issue 16): a partner organisation's own layer, every version kept, its audience chosen.

- partner_layers: one layer of one organisation (a commune, the utility, the land registry, an operator): slug
  (its URL and OGC collection « partenaire-<slug> »), titles and descriptions FR/AR, licence, audience (owner:
  the organisation only; partners: every partner and staff; public: open data), geometry kind, its attributes
  (declared at the first upload: [{"name", "type", "label"}]), the version in force, and whether the instruction
  shows it as an information layer (with the label the note prints).
- partner_layer_versions: every upload (an import of the one pipeline), never deleted: replacing a layer adds a
  version and moves current_version, as plans do.
- partner_features: the features of every version (properties as JSON of the declared attributes, geometry in
  the storage CRS and its Web Mercator copy for tiles).
- api_keys.organisation: a partner key of an organisation also reads that organisation's « owner » layers.

The web server uploads (partner space), so it inserts versions and features and updates the layer's
description and audience; it never deletes a version or a feature.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from alembic import op

from layers.roles import grants_sql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

APP_GRANTS = {
    "partner_layers": ("SELECT, INSERT, UPDATE (title_fr, title_ar, description_fr, description_ar, licence, "
                       "audience, current_version, information_layer, info_label_fr, info_label_ar, attributes, "
                       "updated_at)"),
    "partner_layer_versions": "SELECT, INSERT",
    "partner_features": "SELECT, INSERT",
}


def upgrade() -> None:
    """The three tables, their indexes and grants, and api_keys.organisation."""
    op.execute("""
    CREATE TABLE partner_layers (
        id serial PRIMARY KEY,
        slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,58}[a-z0-9]$'),
        organisation text NOT NULL CHECK (length(organisation) BETWEEN 1 AND 200),
        created_by bigint REFERENCES accounts(id),
        title_fr text NOT NULL CHECK (length(title_fr) BETWEEN 1 AND 200),
        title_ar text CHECK (length(title_ar) <= 200),
        description_fr text NOT NULL DEFAULT '' CHECK (length(description_fr) <= 4000),
        description_ar text NOT NULL DEFAULT '' CHECK (length(description_ar) <= 4000),
        licence text NOT NULL CHECK (length(licence) BETWEEN 1 AND 200),
        audience text NOT NULL DEFAULT 'owner' CHECK (audience IN ('owner', 'partners', 'public')),
        geometry_kind text NOT NULL CHECK (geometry_kind IN ('polygon', 'line', 'point')),
        attributes jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(attributes) = 'array'),
        current_version integer,
        information_layer boolean NOT NULL DEFAULT false,
        info_label_fr text CHECK (length(info_label_fr) <= 200),
        info_label_ar text CHECK (length(info_label_ar) <= 200),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    COMMENT ON TABLE partner_layers IS 'A partner organisation''s own layer (issue 16); audience owner, partners or public';
    CREATE TABLE partner_layer_versions (
        layer_id integer NOT NULL REFERENCES partner_layers(id),
        version integer NOT NULL CHECK (version >= 1),
        import_id bigint REFERENCES imports(id),
        feature_count integer NOT NULL DEFAULT 0,
        created_by bigint REFERENCES accounts(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (layer_id, version)
    );
    COMMENT ON TABLE partner_layer_versions IS 'Every upload of a partner layer, kept (a replacement adds a version)';
    ALTER TABLE partner_layers ADD CONSTRAINT partner_layers_current_fk
        FOREIGN KEY (id, current_version) REFERENCES partner_layer_versions(layer_id, version) DEFERRABLE INITIALLY DEFERRED;
    CREATE TABLE partner_features (
        id bigserial PRIMARY KEY,
        layer_id integer NOT NULL,
        version integer NOT NULL,
        properties jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
        geom geometry(Geometry, 26191) NOT NULL CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
        geom_3857 geometry(Geometry, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
        FOREIGN KEY (layer_id, version) REFERENCES partner_layer_versions(layer_id, version)
    );
    CREATE INDEX partner_features_version_idx ON partner_features (layer_id, version, id);
    CREATE INDEX partner_features_geom_gist ON partner_features USING gist (geom);
    CREATE INDEX partner_features_geom_3857_gist ON partner_features USING gist (geom_3857);
    ALTER TABLE api_keys ADD COLUMN organisation text;
    COMMENT ON COLUMN api_keys.organisation IS 'The partner organisation of the key: it also reads its own layers';
    """)
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Back to 0024."""
    op.execute("ALTER TABLE api_keys DROP COLUMN IF EXISTS organisation; "
               "DROP TABLE IF EXISTS partner_features, partner_layer_versions, partner_layers CASCADE")
