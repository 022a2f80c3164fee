"""The browser libraries installed from the npm registry (package.json, package-lock.json, `npm ci`), served
by the app itself under /vendor/: MapLibre GL JS (its CSP build and worker) and the Noto Sans fonts.

Only the files a page loads are served (`VENDOR`), never the rest of node_modules/; each is cached for a year
and revalidated by its modification time (a new `npm ci` changes it). Text files go out gzip-compressed to a
browser that accepts it (MapLibre is 970 KB, 250 KB compressed: the first load of the map stays under 500 KB),
compressed once per process and file. A missing install is a 503 that says which command to run, not a page
that silently shows no map.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path, PurePosixPath

from flask import Blueprint, Flask, Response, current_app, request, send_file

from gis.errors import NotFound, UrbasigError

assets = Blueprint("assets", __name__)

# Package directory → the files under it that pages may load (glob patterns relative to the package).
VENDOR: dict[str, tuple[str, ...]] = {
    "maplibre-gl": ("dist/maplibre-gl-csp.js", "dist/maplibre-gl-csp-worker.js", "dist/maplibre-gl.css",
                    "LICENSE.txt"),
    "@fontsource/noto-sans": ("latin-400.css", "latin-700.css", "latin-ext-400.css", "latin-ext-700.css",
                              "files/noto-sans-latin-400-normal.woff2", "files/noto-sans-latin-700-normal.woff2",
                              "files/noto-sans-latin-ext-400-normal.woff2",
                              "files/noto-sans-latin-ext-700-normal.woff2", "LICENSE"),
    "@fontsource/noto-sans-arabic": ("arabic-400.css", "arabic-700.css",
                                     "files/noto-sans-arabic-arabic-400-normal.woff2",
                                     "files/noto-sans-arabic-arabic-700-normal.woff2", "LICENSE"),
}
TYPES = {".js": "text/javascript", ".css": "text/css", ".woff2": "font/woff2", ".txt": "text/plain", "": "text/plain"}
COMPRESSIBLE = frozenset({".js", ".css", ".txt", ""})  # woff2 is compressed already
YEAR_S = 365 * 24 * 3600


class AssetsMissing(UrbasigError):
    """The browser libraries are not installed (node_modules/ missing)."""

    status = 503
    code = "assets-missing"
    retry_after_s = 60


def vendor_file(root: Path, path: str) -> Path:
    """The file of node_modules/ that `path` names, when it is one pages may load; else NotFound."""
    parts = PurePosixPath(path).parts
    for package, files in VENDOR.items():
        depth = package.count("/") + 1
        if "/".join(parts[:depth]) == package and "/".join(parts[depth:]) in files:
            found = root / path
            if not found.is_file():
                raise AssetsMissing("bibliothèques du navigateur non installées : lancez « make setup » "
                                    "(npm ci) sur le serveur")
            return found
    raise NotFound(f"fichier inconnu : « /vendor/{path} »")


@assets.get("/vendor/<path:path>")
def vendor(path: str) -> Response:
    """One browser library file, cached a year (immutable between two `npm ci`)."""
    found = vendor_file(current_app.config["URBASIG"].node_modules, path)
    mimetype = TYPES.get(found.suffix, "application/octet-stream")
    if found.suffix in COMPRESSIBLE and "gzip" in request.accept_encodings:
        stat = found.stat()
        response = Response(_gzipped(str(found), stat.st_mtime_ns), mimetype=mimetype)
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(f"{stat.st_mtime_ns:x}-{stat.st_size:x}-gz")
        response.cache_control.public, response.cache_control.max_age = True, YEAR_S
        response.make_conditional(request)
    else:
        response = send_file(found, mimetype=mimetype, conditional=True, max_age=YEAR_S)
    response.vary.add("Accept-Encoding")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@lru_cache(maxsize=32)
def _gzipped(path: str, mtime_ns: int) -> bytes:
    """The file compressed once per process and version (the modification time is part of the key)."""
    return gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=mtime_ns // 10**9)


def register_assets(app: Flask) -> None:
    """Attach /vendor/."""
    app.register_blueprint(assets)
