"""Partner layers written straight into the database, as the upload side would leave them (tests only).

`add_partner_layer` declares a layer, adds its version 1 and puts it in force; `add_version` adds a version and
puts it in force (current_version moved, layer_versions bumped, in the caller's transaction). Features are given
in lon/lat (WGS 84) and stored in EPSG:26191, as every layer is.
"""

from __future__ import annotations

import json

import psycopg

from layers.partner_layers import bump


def add_partner_layer(conn: psycopg.Connection, slug: str, organisation: str, audience: str, kind: str,
                      attributes: list[dict], features: list[tuple[dict, str]], title_fr: str | None = None,
                      title_ar: str | None = None, published: bool = True) -> int:
    """A partner layer with `features` ((properties, WKT in lon/lat)) as version 1; its id."""
    layer_id = conn.execute(
        "INSERT INTO partner_layers (slug, organisation, title_fr, title_ar, description_fr, licence, audience, "
        "geometry_kind, attributes) VALUES (%s, %s, %s, %s, %s, 'CC-BY-4.0', %s, %s, %s) RETURNING id",
        (slug, organisation, title_fr or f"Couche {slug}", title_ar, f"Couche {slug} de {organisation}", audience,
         kind, json.dumps(attributes))).fetchone()[0]
    if published:
        add_version(conn, layer_id, slug, 1, features)
    return layer_id


def add_version(conn: psycopg.Connection, layer_id: int, slug: str, version: int,
                features: list[tuple[dict, str]]) -> None:
    """Add `version` with its features and put it in force."""
    conn.execute("INSERT INTO partner_layer_versions (layer_id, version, feature_count) VALUES (%s, %s, %s)",
                 (layer_id, version, len(features)))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO partner_features (layer_id, version, properties, geom) VALUES "
                        "(%s, %s, %s, ST_Transform(ST_GeomFromText(%s, 4326), 26191))",
                        [(layer_id, version, json.dumps(props), wkt) for props, wkt in features])
    conn.execute("UPDATE partner_layers SET current_version = %s, updated_at = now() WHERE id = %s",
                 (version, layer_id))
    bump(conn, slug)


def square(lon: float, lat: float, side: float = 0.002) -> str:
    """A square in lon/lat, its south-west corner at (lon, lat)."""
    return (f"POLYGON(({lon} {lat}, {lon + side} {lat}, {lon + side} {lat + side}, {lon} {lat + side}, "
            f"{lon} {lat}))")


def remove_partner_layer(conn: psycopg.Connection, slug: str) -> None:
    """Delete a partner layer and everything of it (as the database's owner: the server role cannot)."""
    conn.execute("UPDATE partner_layers SET current_version = NULL WHERE slug = %s", (slug,))
    conn.execute("DELETE FROM partner_features WHERE layer_id IN (SELECT id FROM partner_layers WHERE slug = %s)",
                 (slug,))
    conn.execute("DELETE FROM partner_layer_versions WHERE layer_id IN (SELECT id FROM partner_layers WHERE slug = %s)",
                 (slug,))
    conn.execute("DELETE FROM partner_layers WHERE slug = %s", (slug,))
    conn.execute("DELETE FROM tile_cache WHERE collection = %s", ("partenaire-" + slug,))
    conn.execute("DELETE FROM layer_versions WHERE layer = %s", ("partner:" + slug,))
