"""The search box's indexes: titles by prefix, addresses and names folded (case, accents, punctuation) with trigrams.

`urbasig_fold(text)` is an IMMUTABLE SQL function (replace, translate, regexp_replace: no extension, no
dictionary, no locale, so it can back an index and a generated expression) written from gis/search_text.py's
FOLD_TABLE, so it folds exactly as `fold()` does: « 12, Rue Ibn Sina » → « 12 rue ibn sina », « Aïn-Chock » →
« ain chock », « Straße » → « strasse », « أحمد » → « احمد ». The function is written when the migration runs:
a later change to FOLD_TABLE needs a new migration that replaces the function (tests/test_search.py compares
both sides over the sample and tricky strings, so a drift fails there).
pg_trgm (a trusted contrib extension shipped with PostgreSQL) gives the GIN trigram index over the folded
addresses, so « 12 rue ibnou sina » finds « 12, Rue Ibn Sina » among 200,000 parcels without a scan.
No table is created: the grants of 0013 (SELECT on parcels, communes, roads) are what the search reads.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from alembic import op

from gis.search_text import FOLD_TABLE
from layers.roles import grants_sql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

APP_GRANTS: dict[str, str] = {}  # no new table; the search reads parcels, communes and roads (0013: SELECT)


def _literal(text: str) -> str:
    """A SQL string literal (standard_conforming_strings: only the quote is doubled)."""
    return "'" + text.replace("'", "''") + "'"


def fold_sql(column: str = "t") -> str:
    """gis/search_text.py's FOLD_TABLE as SQL: replace() for each expansion (ß → ss), one translate() for the
    one-for-one and dropped characters, then runs of spaces as one; the same words fold() gives."""
    expansions = {k: v for k, v in FOLD_TABLE.items() if len(v) > 1}
    single = {k: v for k, v in FOLD_TABLE.items() if len(v) == 1}
    dropped = "".join(k for k, v in FOLD_TABLE.items() if not v)
    expr = column
    for char, spelt in expansions.items():
        expr = f"replace({expr}, {_literal(char)}, {_literal(spelt)})"
    expr = f"translate({expr}, {_literal(''.join(single) + dropped)}, {_literal(''.join(single.values()))})"
    return f"btrim(regexp_replace({expr}, ' {{2,}}', ' ', 'g'), ' ')"


UPGRADE = f"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE FUNCTION urbasig_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT {fold_sql()}
$$;
COMMENT ON FUNCTION urbasig_fold(text) IS
    'Fold a text for search: gis/search_text.py FOLD_TABLE (accents off, ASCII lower case, punctuation as spaces)';

-- titles by prefix ("TF 568" → TF 568…), in byte order whatever the database's collation: LIKE 'TF 568%'
-- is a range of this index and ORDER BY … COLLATE "C" LIMIT n reads its first n entries
CREATE INDEX parcels_land_ref_prefix ON parcels ((land_ref COLLATE "C")) WHERE land_ref IS NOT NULL;
-- addresses folded once, at write time (folding is a translate and two regular expressions: too dear to redo
-- on thousands of rows per keystroke), by prefix ("12 rue ibn s…") and by trigrams ("rue ibnou sina 12")
ALTER TABLE parcels ADD COLUMN address_fold text GENERATED ALWAYS AS (urbasig_fold(address)) STORED;
COMMENT ON COLUMN parcels.address_fold IS 'The address folded for search (urbasig_fold): « 12 rue ibn sina »';
CREATE INDEX parcels_address_fold_prefix ON parcels ((address_fold COLLATE "C")) WHERE address_fold IS NOT NULL;
CREATE INDEX parcels_address_fold_trgm ON parcels USING gin (address_fold gin_trgm_ops) WHERE address_fold IS NOT NULL;
-- street names, folded the same way (the search box suggests streets from the roads layer)
ALTER TABLE roads ADD COLUMN name_fold text GENERATED ALWAYS AS (urbasig_fold(name)) STORED;
CREATE INDEX roads_name_fold_trgm ON roads USING gin (name_fold gin_trgm_ops) WHERE name_fold IS NOT NULL;
"""

DOWNGRADE = """
DROP INDEX IF EXISTS roads_name_fold_trgm, parcels_land_ref_prefix, parcels_address_fold_trgm,
    parcels_address_fold_prefix;
ALTER TABLE parcels DROP COLUMN IF EXISTS address_fold;
ALTER TABLE roads DROP COLUMN IF EXISTS name_fold;
DROP FUNCTION IF EXISTS urbasig_fold(text);
"""


def upgrade() -> None:
    """Create the folding function, pg_trgm and the search indexes."""
    op.execute(UPGRADE)
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Drop the search indexes, the folded addresses and the folding function (pg_trgm stays: others may use it)."""
    op.execute(DOWNGRADE)
