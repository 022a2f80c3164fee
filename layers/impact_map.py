"""What the public map and the land panel read of the published plan impact runs (the view plan_impact).

The runs themselves are computed and published by instruction/impact.py (layers/impact.py writes them); this
module only reads what is published: which runs the map may offer (a toggle beside the draft in public inquiry)
and the rows of one land for its panel. No owner is read: the view holds none.
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg.rows import dict_row

INQUIRY = "enquete_publique"

_PUBLISHED_SQL = """
SELECT r.id AS run_id, fp.code AS from_plan, tp.code AS to_plan, tp.name AS to_plan_name, r.area, r.parcels,
       to_char(COALESCE(r.finished_at, r.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS computed_on
FROM impact_runs r
JOIN plans fp ON fp.id = r.from_plan_id
JOIN plans tp ON tp.id = r.to_plan_id
WHERE r.published AND plan_status_on(tp.id, %(day)s) = %(status)s
ORDER BY tp.code, fp.code
"""

# One land's rows: by its titles, or (untitled land, a click) the parcel under the point (lon/lat, WGS 84).
_LAND_COLUMNS = """i.run_id, i.id AS parcel_id, i.land_ref, i.from_plan, i.to_plan, i.change, i.zone_before,
       i.zone_after, i.floor_before_m2, i.floor_after_m2, i.floor_delta_m2, i.uses_gained, i.uses_lost,
       i.reserved_new_m2, i.widening_new_m2, i.buildable_before, i.buildable_after"""
_BY_REFS_SQL = f"SELECT {_LAND_COLUMNS} FROM plan_impact i WHERE i.land_ref = ANY(%(refs)s) ORDER BY i.land_ref, i.to_plan"
_BY_POINT_SQL = f"""
SELECT {_LAND_COLUMNS} FROM plan_impact i
WHERE ST_Intersects(i.geom, ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 26191))
ORDER BY i.to_plan
"""


def published_for_inquiry(conn: psycopg.Connection, day: date) -> list[dict]:
    """The published runs whose compared plan is in public inquiry on `day` (what the map's impact toggle shows)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_PUBLISHED_SQL, {"day": day, "status": INQUIRY}, prepare=True).fetchall()


def land_impact(conn: psycopg.Connection, refs: list[str], point: tuple[float, float] | None = None) -> list[dict]:
    """The published impact rows of a land: its titles (normalised, as the instruction gives them), else the
    parcel under `point` (lon, lat)."""
    with conn.cursor(row_factory=dict_row) as cur:
        if refs:
            return cur.execute(_BY_REFS_SQL, {"refs": list(refs)}, prepare=True).fetchall()
        if point is None:
            return []
        return cur.execute(_BY_POINT_SQL, {"lon": point[0], "lat": point[1]}, prepare=True).fetchall()
