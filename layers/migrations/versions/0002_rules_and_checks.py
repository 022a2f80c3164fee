"""Versioned rule sets (thresholds, activity catalogue) and stored check results.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import json

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Defaults, stored as data (version 1): an agency changes them by adding a new version, never by editing code.
THRESHOLDS_V1 = {
    # A piece of land under a zone is "marginal" when it is BOTH under this share and under this area. Zone
    # limits are digitised to about 1–1.5 m (DOMAIN.md); along a 20–35 m plot side that makes strips of up
    # to ~50 m². Requiring both keeps a large plot's real 40 m² corner from being called a sliver only
    # because it is a small share, and a small plot's 3 % from being ignored when it is a real piece.
    "marginal_share_pct": 3.0,
    "marginal_area_m2": 50.0,
    # A layer covers the land when its perimeter covers at least this share of it.
    "coverage_full_pct": 99.5,
    # Limits closer than this to a road polygon are limits on a road (permit setbacks).
    "road_limit_tolerance_m": 1.0,
    # Geometric tolerance for "inside the land" and "no overlap" (digitising noise).
    "geometry_tolerance_m": 0.05,
    # Subdivisions: share of green space and facilities required above a land area.
    "subdivision_green_space_min_pct": 5.0,
    "subdivision_facilities_min_pct": 0.0,
    "subdivision_requirements_above_m2": 10000.0,
    # Licence distances: "straight" (default) or "walking" (not available yet: reported as cannot tell).
    "distance_method": "straight",
    "nearest_listed": 5,
}

ACTIVITIES_V1 = {
    "pharmacy": {"label": "Pharmacie", "use": "commerce de proximité", "class": None,
                 "distance_rules": [{"kind": "pharmacy", "min_m": 300, "source": "loi 17-04"}],
                 "priority_by_filing": True},
    "tobacco_shop": {"label": "Débit de tabac", "use": "commerce de proximité", "class": None, "distance_rules": [],
                     "note": "licence du wali ou du gouverneur ; aucune règle de distance connue"},
    "cafe_restaurant": {"label": "Café ou restaurant", "use": "commerce de proximité", "class": None,
                        "distance_rules": []},
    "classified_1": {"label": "Établissement classé de 1re catégorie", "use": "établissement classé", "class": 1,
                     "distance_rules": []},
    "classified_2": {"label": "Établissement classé de 2e catégorie", "use": "établissement classé", "class": 2,
                     "distance_rules": []},
    "classified_3": {"label": "Établissement classé de 3e catégorie", "use": "établissement classé 3e catégorie",
                     "class": 3, "distance_rules": []},
    "terrace": {"label": "Terrasse sur le domaine public", "use": None, "class": None, "distance_rules": [],
                "public_domain_only": True},
}
# Zones whose dominant use starts with one of these are residential (classes 1 and 2 refused: dahir 1914).
RESIDENTIAL_USES = ["habitat"]


def upgrade() -> None:
    """Create rule_sets and check_results, and seed version 1 of the rules."""
    op.execute("""
    CREATE TABLE rule_sets (
        id serial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('thresholds', 'activities')),
        version text NOT NULL,
        valid_from date NOT NULL,
        content jsonb NOT NULL,
        notes text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (kind, version)
    );
    COMMENT ON TABLE rule_sets IS 'Versioned rule data: thresholds and the activity catalogue; the version valid '
        'on the instruction date is used and recorded with the result';
    CREATE TABLE check_results (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('instruction', 'permit', 'subdivision', 'licence')),
        request jsonb NOT NULL,
        result jsonb NOT NULL,
        outcome text,
        code_version text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    """)
    activities = {"activities": ACTIVITIES_V1, "residential_dominant_uses": RESIDENTIAL_USES}
    op.execute(
        "INSERT INTO rule_sets (kind, version, valid_from, content, notes) VALUES "
        f"('thresholds', '1', '1900-01-01', '{json.dumps(THRESHOLDS_V1)}'::jsonb, 'Valeurs initiales'), "
        f"('activities', '1', '1900-01-01', $j${json.dumps(activities, ensure_ascii=False)}$j$::jsonb, "
        "'Catalogue initial des activités')")
    op.execute("""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'urbasig_public') THEN
            GRANT SELECT ON rule_sets TO urbasig_public;
        END IF; END $$""")


def downgrade() -> None:
    """Drop the rule sets and stored results."""
    op.execute("DROP TABLE IF EXISTS check_results, rule_sets")
