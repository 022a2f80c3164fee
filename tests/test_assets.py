"""/vendor/: the browser libraries installed by npm ci, only the files pages load, compressed for browsers."""

import gzip
from pathlib import Path

from app import create_app
from tests.helpers import app_settings

ROOT = Path(__file__).resolve().parents[1]


def _client(db_url, **values):
    return create_app(app_settings(db_url, pool_min=1, pool_max=2, **values)).test_client()


def test_maplibre_is_served_compressed_and_cached(db_url):
    client = _client(db_url)
    raw = (ROOT / "node_modules/maplibre-gl/dist/maplibre-gl-csp.js").read_bytes()
    plain = client.get("/vendor/maplibre-gl/dist/maplibre-gl-csp.js")
    assert plain.status_code == 200 and plain.data == raw and plain.mimetype == "text/javascript"
    zipped = client.get("/vendor/maplibre-gl/dist/maplibre-gl-csp.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.data) == raw
    assert len(zipped.data) < len(raw) / 3 and "max-age=31536000" in zipped.headers["Cache-Control"]
    again = client.get("/vendor/maplibre-gl/dist/maplibre-gl-csp.js",
                       headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and "Accept-Encoding" in again.headers["Vary"]


def test_only_the_files_pages_load(db_url):
    client = _client(db_url)
    assert client.get("/vendor/maplibre-gl/package.json").status_code == 404
    assert client.get("/vendor/maplibre-gl/dist/../../../package.json").status_code == 404
    assert client.get("/vendor/@fontsource/noto-sans-arabic/files/noto-sans-arabic-arabic-400-normal.woff2",
                      headers={"Accept-Encoding": "gzip"}).headers.get("Content-Encoding") is None


def test_a_missing_install_says_what_to_run(db_url, tmp_path):
    response = _client(db_url, node_modules=tmp_path).get("/vendor/maplibre-gl/dist/maplibre-gl-csp.js",
                                                         headers={"Accept": "application/json"})
    assert response.status_code == 503 and "make setup" in response.get_json()["message"]
