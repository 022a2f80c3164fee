"""Small builders for test fixtures: files and rows made for the test, never the sample territory."""

from __future__ import annotations

import secrets
import warnings
from pathlib import Path

import geopandas as gpd
import psycopg
import shapely

from settings import Settings

X0, Y0 = 295_000.0, 332_000.0  # a point in Casablanca, EPSG:26191


def box(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    """A rectangle with its lower-left corner at (X0 + x, Y0 + y)."""
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def write_layer(path: Path, records: list[dict], geoms: list, crs: str | None = "EPSG:26191", layer: str | None = None,
                driver: str | None = None) -> Path:
    """Write a small vector file with pyogrio."""
    frame = gpd.GeoDataFrame(records, geometry=geoms, crs=crs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")  # files without CRS on purpose
        frame.to_file(path, layer=layer, driver=driver, engine="pyogrio")
    return path


def add_commune(conn: psycopg.Connection, code: str, geom: shapely.Geometry, name: str | None = None) -> None:
    """Insert an arrondissement."""
    conn.execute("INSERT INTO communes (code, name, kind, prefecture, prefecture_kind, geom) "
                 "VALUES (%s, %s, 'arrondissement', 'Casablanca-Anfa', 'préfecture', "
                 "ST_Multi(ST_GeomFromText(%s, 26191)))", (code, name or code.title(), geom.wkt))
    conn.commit()


def count(conn: psycopg.Connection, table: str) -> int:
    """Rows in a table."""
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - test helper, fixed names


# ------------------------------------------------------------------ the OGC world (tests/fixtures/ogc_world.sql)
OGC_WORLD_SQL = Path(__file__).parent / "fixtures" / "ogc_world.sql"
OGC_HAND_PARCELS = 14  # parcels 1–14 of the SQL file (its map)
# The grid: per commune, the x of its west edge, its block columns and the suffix of its titles; 5 block rows.
GRID_COMMUNES = (("ANFA", 0.0, 4, "C", "Les Palmiers"), ("MAARIF", 600.0, 4, "D", "Al Manar"),
                 ("SIDI-BELYOUT", 1200.0, 2, "C", "Derb Omar"))
GRID_ROWS, PARCEL_W, PARCEL_D, BLOCK_STEP_X, BLOCK_STEP_Y = 5, 12.0, 25.0, 132.0, 62.0  # 12 m streets
GRID_PER_BLOCK = 20  # two rows of ten parcels back to back
OGC_GRID_PARCELS = GRID_PER_BLOCK * GRID_ROWS * sum(c[2] for c in GRID_COMMUNES)  # 1 000
OGC_PARCELS = OGC_HAND_PARCELS + OGC_GRID_PARCELS  # 1 014
OGC_COMMUNE_PARCELS = {"ANFA": 10 + 400, "MAARIF": 2 + 400, "SIDI-BELYOUT": 2 + 200}  # hand-made + grid


def grid_parcels() -> list[tuple[int, str, str, str, shapely.Polygon]]:
    """The grid's parcels in id order: (title number, suffix, commune, address, geometry in EPSG:26191).

    Blocks of 2 × 10 parcels of 12 × 25 m (300 m²) separated by 12 m streets, from y = 20; titles TF 20001…
    """
    out = []
    for commune, west, columns, suffix, estate in GRID_COMMUNES:
        for row in range(GRID_ROWS):
            for col in range(columns):
                bx, by = west + 30 + col * BLOCK_STEP_X, 20 + row * BLOCK_STEP_Y
                for back in range(2):
                    for k in range(10):
                        number = 20001 + len(out)
                        geom = box(bx + k * PARCEL_W, by + back * PARCEL_D, PARCEL_W, PARCEL_D)
                        out.append((number, suffix, commune, f"lot {number - 20000}, lotissement {estate}", geom))
    return out


def load_ogc_world(conn: psycopg.Connection) -> None:
    """Load tests/fixtures/ogc_world.sql and the grid of parcels after it (ids 15 onwards), then ANALYZE."""
    conn.execute(OGC_WORLD_SQL.read_text(encoding="utf-8"))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO parcels (ref_kind, ref_number, ref_suffix, ref_text, legal_area_m2, commune_code, address, "
            "geom) VALUES ('TF', %s, %s, %s, 300, %s, %s, ST_Multi(ST_GeomFromText(%s, 26191)))",
            [(n, s, f"TF {n}/{s}", c, a, g.wkt) for n, s, c, a, g in grid_parcels()])
    for table in ("parcels", "zones", "prescriptions", "sdau_zones", "roads", "communes", "plans"):
        conn.execute(f"ANALYZE {table}")
    conn.commit()


def lonlat_box(x0: float, y0: float, x1: float, y1: float, digits: int = 5) -> tuple[float, float, float, float]:
    """The CRS84 box (lon/lat, rounded outwards) holding a box of local coordinates (metres from X0, Y0)."""
    import math

    from pyproj import Transformer

    to84 = Transformer.from_crs("EPSG:26191", "OGC:CRS84", always_xy=True)
    lons, lats = to84.transform([X0 + x for x in (x0, x1, x0, x1)], [Y0 + y for y in (y0, y0, y1, y1)])
    scale = 10**digits
    return (math.floor(min(lons) * scale) / scale, math.floor(min(lats) * scale) / scale,
            math.ceil(max(lons) * scale) / scale, math.ceil(max(lats) * scale) / scale)


def free_port() -> int:
    """A loopback port free right now (to give an app its public URL before serving it there)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(app, port: int = 0) -> tuple[object, str]:
    """Serve a WSGI app on a loopback port (a free one by default) in a thread: (server, base URL)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


class Inbox:
    """An aiosmtpd handler keeping every message received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        import email

        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def fire_at_once(n: int, call) -> list:
    """Run `call(i)` for i in range(n) in n threads released together by a barrier; their results in order."""
    import threading

    barrier, results = threading.Barrier(n), [None] * n

    def run(i):
        barrier.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


# The server role's password in the test cluster (set once per session by conftest's template fixture).
APP_PASSWORD = secrets.token_urlsafe(18)


def app_url(db_url: str) -> str:
    """The URL of the same test database for the web server's role urbasig_app (least privilege)."""
    from layers.roles import app_url as role_url

    return role_url(db_url, APP_PASSWORD)


def app_settings(db_url: str, **values: object) -> Settings:
    """Settings of an app over a test database: migrations' owner URL, and the server's own role for requests."""
    return Settings(database_url=db_url, app_database_url=app_url(db_url), **values)  # type: ignore[arg-type]


# The sample territory that the panel, search and browser tests share (tests/conftest.py `sample_url`): enough
# for every kind of land of the generator, quick to load (~seconds).
SAMPLE_PARCELS, SAMPLE_SEED = 4000, 42


def sample_database(server_url: str, template_name: str, name: str, parcels: int, seed: int):
    """A database named `name` holding the sample territory (`parcels`, `seed`), dropped after: a generator for
    a fixture (`yield from sample_database(…)`)."""
    from layers.sample import load_sample

    yield from _database_with(server_url, template_name, name, lambda conn: load_sample(conn, parcels, seed))


def ogc_world_database(server_url: str, template_name: str, name: str):
    """A database named `name` holding tests/fixtures/ogc_world.sql and its grid, dropped after (a generator for a
    fixture, as sample_database)."""
    yield from _database_with(server_url, template_name, name, load_ogc_world)


def _database_with(server_url: str, template_name: str, name: str, fill):
    import os

    from layers.db import drop_database, ensure_database, with_dbname

    full = f"{name}_{os.getpid()}"
    ensure_database(server_url, full, template=template_name)
    url = with_dbname(server_url, full)
    with psycopg.connect(url) as conn:
        fill(conn)
        conn.commit()
    yield url
    drop_database(server_url, full)


def in_one_minute(conn: psycopg.Connection, scope: str, run):
    """`run()`'s result, once every request it counted in the rate limit `scope` fell in one calendar minute.

    The limit's window is the database's calendar minute (layers/ratelimit.py): a burst that straddles two
    minutes starts counting again halfway. Instead of sleeping until a fresh minute, the counters of `scope` are
    emptied and the burst run; if its counts landed in two windows it is run once more, now just after a minute
    began, so it cannot straddle again.
    """
    for _ in range(2):
        conn.execute("DELETE FROM rate_limits WHERE scope = %s", (scope,))
        conn.commit()
        result = run()
        windows = conn.execute("SELECT count(DISTINCT window_start) FROM rate_limits WHERE scope = %s",
                               (scope,)).fetchone()[0]
        conn.commit()
        if windows == 1:
            return result
    raise AssertionError(f"les demandes de « {scope} » ont chevauché deux minutes deux fois de suite")
