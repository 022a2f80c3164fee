"""What a printed map states besides its image: the plans shown in the view on a date, when each layer last changed."""

from __future__ import annotations

from datetime import date, datetime

import psycopg
import shapely

from layers.overlay import plans_at

PRINTED_LAYERS = ("zones", "prescriptions", "parcels", "roads", "communes", "sdau_zones", "plans")


def plans_in_view(conn: psycopg.Connection, view_26191: shapely.Geometry, day: date) -> list[dict]:
    """The plan versions that touch the view and had a status on `day` (code, name, status, act, dates)."""
    ewkb = shapely.to_wkb(shapely.set_srid(view_26191, 26191), include_srid=True)
    keep = ("code", "kind", "name", "status_on", "in_force", "approval_act", "approval_date", "status_since")
    return [{k: p[k] for k in keep} for p in plans_at(conn, ewkb, day)]


def zone_codes_in_view(conn: psycopg.Connection, view_26191: shapely.Geometry) -> list[str]:
    """The codes of the zones (of any plan) that touch the view, sorted: the only zone codes a legend may print."""
    ewkb = shapely.to_wkb(shapely.set_srid(view_26191, 26191), include_srid=True)
    rows = conn.execute("SELECT DISTINCT code FROM zones WHERE geom && ST_GeomFromEWKB(%(view)s) "
                        "AND ST_Intersects(geom, ST_GeomFromEWKB(%(view)s)) ORDER BY code", {"view": ewkb},
                        prepare=True).fetchall()
    return [code for (code,) in rows]


def data_dates(conn: psycopg.Connection, layers: tuple[str, ...] = PRINTED_LAYERS) -> dict[str, datetime]:
    """When each printed layer last changed (layer_versions), by layer."""
    rows = conn.execute("SELECT layer, changed_at FROM layer_versions WHERE layer = ANY(%s)", (list(layers),),
                        prepare=True).fetchall()
    return dict(rows)
