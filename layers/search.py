"""The search box's queries: titles by prefix, addresses, streets, communes, and what lies under a point.

Every query reads an index of migration 0018 (or a GiST index) and is bounded by a LIMIT before any geometry
is transformed: the inner query picks the ids, the outer one computes the centres and boxes of those few rows.
Owners are never read (parcel_owners is not even granted to the server); addresses are public.
LIKE patterns are built by `like_prefix`, which escapes « % », « _ » and « \\ »: a typed wildcard is a character.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

# Similarity (pg_trgm's word_similarity, 0..1) from which a folded street or name counts as found: « rue ibn
# sina » in « 13 rue ibn sina » is 1; « ibnou » for « ibn » still passes, a different street does not.
STREET_SIMILARITY = 0.5
NAME_SIMILARITY = 0.45

# The centre (a point on the surface, so inside even an L-shaped parcel) and the box, in WGS 84.
_PLACE = """ST_X(pt) AS lon, ST_Y(pt) AS lat, ST_XMin(env) AS w, ST_YMin(env) AS s, ST_XMax(env) AS e,
    ST_YMax(env) AS n"""
_PARCEL_PLACE = f"""SELECT p.id, p.land_ref, p.address, c.name AS commune, c.code AS commune_code, {_PLACE}
FROM parcels p LEFT JOIN communes c ON c.code = p.commune_code
CROSS JOIN LATERAL (SELECT ST_Transform(ST_PointOnSurface(p.geom), 4326) AS pt,
                           ST_Transform(ST_Envelope(p.geom), 4326) AS env) AS g"""


def like_prefix(text: str) -> str:
    """A LIKE pattern for « starts with `text` », the wildcards of `text` escaped (ESCAPE is « \\ »)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def titles(conn: psycopg.Connection, prefixes: list[str], limit: int) -> list[dict]:
    """Parcels whose normalised title starts with one of `prefixes` ("TF 568" → TF 568/C, TF 5680/C…), in byte
    order (so TF 568/C before TF 5680/C), the exact title first."""
    picks = " UNION ALL ".join(
        """(SELECT id, land_ref FROM parcels WHERE land_ref IS NOT NULL AND land_ref COLLATE "C" LIKE %s
            ORDER BY land_ref COLLATE "C" LIMIT %s)""" for _ in prefixes)
    params: list[object] = []
    for prefix in prefixes:
        params += [like_prefix(prefix), limit]
    query = f"""WITH picked AS (SELECT id, land_ref FROM ({picks}) AS u
                                ORDER BY land_ref = ANY(%s) DESC, land_ref COLLATE "C" LIMIT %s)
               {_PARCEL_PLACE} JOIN picked USING (id) ORDER BY p.land_ref = ANY(%s) DESC, p.land_ref COLLATE "C" """
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, (*params, prefixes, limit, prefixes), prepare=False).fetchall()


def _exact_addresses(cur: psycopg.Cursor, number: str, streets_fold: list[str], limit: int) -> list[dict]:
    """Parcels whose folded address starts with « number street » for one of the streets (btree ranges)."""
    picks = " UNION ALL ".join(
        """(SELECT id, %s::int AS rank FROM parcels WHERE address_fold COLLATE "C" LIKE %s
            ORDER BY address_fold COLLATE "C", id LIMIT %s)""" for _ in streets_fold)
    params: list[object] = []
    for rank, street in enumerate(streets_fold):
        params += [rank, like_prefix(f"{number} {street}"), limit]
    query = f"""WITH picked AS (SELECT id, rank FROM ({picks}) AS u ORDER BY rank, id LIMIT %s)
    {_PARCEL_PLACE} JOIN picked USING (id) ORDER BY picked.rank, p.address_fold COLLATE "C", p.id"""
    return cur.execute(query, (*params, limit), prepare=False).fetchall()


def addresses(conn: psycopg.Connection, number: str, street: str, limit: int) -> list[dict]:
    """Parcels at house `number` of a street like `street` (both folded), the closest spelling first.

    1. the spelling as typed, by prefix ("12 rue ibn sina…": a range of the btree);
    2. else the named roads whose folded name is close (trigrams over the roads layer, a few hundred names),
       each looked up by prefix as in 1 ("12 rue ibn sinna" → « rue ibn sina »);
    3. else close addresses at that number, from the trigram index (the LIKE is left in the database's collation
       on purpose: the byte-order btree would then read every parcel at that number, 12,000 of 200,000).
    """
    with conn.cursor(row_factory=dict_row) as cur:
        found = _exact_addresses(cur, number, [street], limit)
        if found:
            return found
        names = [r["name_fold"] for r in cur.execute(
            """SELECT name_fold, max(word_similarity(%(street)s, name_fold)) AS sim FROM roads
               WHERE name_fold IS NOT NULL AND %(street)s <%% name_fold GROUP BY name_fold
               HAVING max(word_similarity(%(street)s, name_fold)) >= %(min)s ORDER BY sim DESC, name_fold LIMIT 3""",
            {"street": street, "min": STREET_SIMILARITY}, prepare=True)]
        found = _exact_addresses(cur, number, names, limit) if names else []
        if found:
            return found
        fuzzy = f"""WITH picked AS (
            SELECT id, word_similarity(%(street)s, address_fold) AS sim FROM parcels
            WHERE address_fold LIKE %(number)s AND %(street)s <%% address_fold
              AND word_similarity(%(street)s, address_fold) >= %(min)s
            ORDER BY sim DESC, id LIMIT %(limit)s)
        {_PARCEL_PLACE} JOIN picked USING (id) ORDER BY picked.sim DESC, p.id"""
        params = {"number": like_prefix(f"{number} "), "street": street, "min": STREET_SIMILARITY, "limit": limit}
        return cur.execute(fuzzy, params, prepare=True).fetchall()


def streets(conn: psycopg.Connection, words: str, limit: int) -> list[dict]:
    """Named roads like `words` (folded), one per name and commune, with their extent."""
    query = f"""WITH picked AS (
        SELECT r.name, r.commune_code, max(word_similarity(%(words)s, r.name_fold)) AS sim,
               ST_Collect(r.geom) AS geom
        FROM roads r WHERE r.name_fold IS NOT NULL AND %(words)s <%% r.name_fold
        GROUP BY r.name, r.commune_code HAVING max(word_similarity(%(words)s, r.name_fold)) >= %(min)s
        ORDER BY sim DESC, r.name, r.commune_code LIMIT %(limit)s)
    SELECT picked.name AS street, c.name AS commune, c.code AS commune_code, {_PLACE}
    FROM picked LEFT JOIN communes c ON c.code = picked.commune_code
    CROSS JOIN LATERAL (SELECT ST_Transform(ST_PointOnSurface(ST_Envelope(picked.geom)), 4326) AS pt,
                               ST_Transform(ST_Envelope(picked.geom), 4326) AS env) AS g
    ORDER BY picked.sim DESC, picked.name, c.name"""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, {"words": words, "min": STREET_SIMILARITY, "limit": limit}, prepare=True).fetchall()


def communes(conn: psycopg.Connection, words: str, limit: int) -> list[dict]:
    """Communes and arrondissements whose folded name or code holds `words`, or is close to it (a typo)."""
    query = f"""WITH picked AS (
        SELECT code, greatest(word_similarity(%(words)s, urbasig_fold(name)),
                              word_similarity(%(words)s, urbasig_fold(code))) AS sim,
               urbasig_fold(name) LIKE %(prefix)s AS starts
        FROM communes
        WHERE urbasig_fold(name) LIKE %(inside)s OR urbasig_fold(code) LIKE %(inside)s
           OR word_similarity(%(words)s, urbasig_fold(name)) >= %(min)s
        ORDER BY starts DESC, sim DESC, name LIMIT %(limit)s)
    SELECT c.code, c.name, c.kind AS commune_kind, c.prefecture, c.prefecture_kind, {_PLACE}
    FROM picked JOIN communes c USING (code)
    CROSS JOIN LATERAL (SELECT ST_Transform(ST_PointOnSurface(c.geom), 4326) AS pt,
                               ST_Transform(ST_Envelope(c.geom), 4326) AS env) AS g
    ORDER BY picked.starts DESC, picked.sim DESC, c.name"""
    params = {"words": words, "prefix": like_prefix(words), "inside": "%" + like_prefix(words), "min": NAME_SIMILARITY,
              "limit": limit}
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params, prepare=True).fetchall()


def at_point(conn: psycopg.Connection, x: float, y: float, srid: int) -> dict | None:
    """What lies under a point given in `srid` (26191 or 4326): the parcel holding it (or None), the commune (or
    None), the point in WGS 84 and the parcel's box; None when the point cannot be placed (off the CRS)."""
    query = """WITH pt AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), %(srid)s), 26191) AS g)
    SELECT p.land_ref, p.address, p.id AS parcel_id, c.name AS commune, c.code AS commune_code,
           ST_X(ST_Transform(pt.g, 4326)) AS lon, ST_Y(ST_Transform(pt.g, 4326)) AS lat,
           ST_XMin(env) AS w, ST_YMin(env) AS s, ST_XMax(env) AS e, ST_YMax(env) AS n
    FROM pt
    LEFT JOIN LATERAL (SELECT id, land_ref, address, geom FROM parcels WHERE ST_Covers(geom, pt.g)
                       ORDER BY id LIMIT 1) AS p ON true
    LEFT JOIN LATERAL (SELECT code, name FROM communes WHERE ST_Covers(geom, pt.g) ORDER BY code LIMIT 1) AS c ON true
    LEFT JOIN LATERAL (SELECT ST_Transform(ST_Envelope(p.geom), 4326) AS env) AS b ON true"""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, {"x": x, "y": y, "srid": srid}, prepare=True).fetchone()


def find(conn: psycopg.Connection, understood: object, limit: int) -> tuple[list[dict], dict]:
    """The hits for what a text was understood as (gis/search_text.Understood), best first, and notes on the
    reading (`swapped` when a Lambert pair was read as y, x because x, y fell on no commune).

    Each hit is a row of the queries above with its `kind`: parcel, address (a parcel found by its address),
    street, commune or point.
    """
    kind, values = understood.kind, understood.values  # type: ignore[attr-defined]
    if kind == "titre":
        return [{"kind": "parcel", **r} for r in titles(conn, list(values["prefixes"]), limit)], {}
    if kind == "adresse":
        if values["number"] is None:
            return [{"kind": "street", **r} for r in streets(conn, values["street"], limit)], {}
        found = [{"kind": "address", **r} for r in addresses(conn, values["number"], values["street"], limit)]
        if not found:  # "rue 136": a numbered street, not house 136 of "rue"
            found = [{"kind": "street", **r} for r in streets(conn, values["whole"], limit)]
        return found, {}
    if kind == "commune":
        found = [{"kind": "commune", **r} for r in communes(conn, values["words"], limit)]
        if len(found) < limit:
            found += [{"kind": "street", **r} for r in streets(conn, values["words"], limit - len(found))]
        return found, {}
    if kind in ("lambert", "lonlat"):
        return _point(conn, kind, values)
    return [], {}


def _point(conn: psycopg.Connection, kind: str, values: dict) -> tuple[list[dict], dict]:
    """The point hit: x, y first, then y, x when x, y falls on no commune and the swap is plausible."""
    if kind == "lonlat":
        row = at_point(conn, values["lon"], values["lat"], 4326)
        return ([{"kind": "point", **row}] if row and (row["commune"] or row["land_ref"] or row["parcel_id"]) else []), {}
    row = at_point(conn, values["x"], values["y"], 26191)
    if row and (row["commune"] or row["parcel_id"]):
        return [{"kind": "point", "x": values["x"], "y": values["y"], **row}], {}
    if values.get("alternative"):
        y, x = values["x"], values["y"]
        row = at_point(conn, x, y, 26191)
        if row and (row["commune"] or row["parcel_id"]):
            return [{"kind": "point", "x": x, "y": y, **row}], {"swapped": True}
    return [], {}
