"""Plan impact: what one plan version changes against another, parcel by parcel, over an area (issue 15).

Interface (foundation; the set-based computation is in layers/impact.py):
    plan_impact(conn, from_code, to_code, area=None, progress=None, job_id=None, publish=True) -> dict
returns {"schema": "urbasig/plan-impact/1", "run_id", "from_plan", "to_plan", "area", "parcels",
"totals", "by_area": [...], "by_zone": [...], "provenance", "links"}; the per-parcel rows are in
impact_parcels (run_id) and exported by layers/impact.py (JSON, CSV, GeoPackage).
`progress(pct: int, message: str)` is called as the work advances (the CLI prints it, a job stores it).
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

IMPACT_SCHEMA = "urbasig/plan-impact/1"
Progress = Callable[[int, str], None]


def plan_impact(conn: psycopg.Connection, from_code: str, to_code: str, area: str | None = None,
                progress: Progress | None = None, job_id: str | None = None, publish: bool = True) -> dict:
    """Compute and store the impact of `to_code` against `from_code` (placeholder until layers/impact.py lands)."""
    raise NotImplementedError("plan impact: being built (issue 15)")
