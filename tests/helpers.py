"""Small builders for test fixtures: files and rows made for the test, never the sample territory."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import psycopg
import shapely

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


def serve(app) -> tuple[object, str]:
    """Serve a WSGI app on a free loopback port in a thread: (server, base URL)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
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
