"""The two standard tile matrix sets served: WebMercatorQuad and WorldCRS84Quad (OGC 2D TMS, 17-083r4).

Pure arithmetic: the definitions as JSON, tile envelopes and the tiles covering a lon/lat box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HALF_M = 20037508.3427892  # half the Web Mercator world, metres
METRES_PER_DEGREE = 6378137 * math.pi / 180  # on the WGS 84 equator, as TMS scale denominators use
PIXEL_M = 0.00028  # the standardized rendering pixel of scale denominators


@dataclass(frozen=True)
class TileMatrixSet:
    """A standard tile matrix set: identifiers, CRS, origin, level-0 cell size and matrix, levels served."""

    id: str
    title: str
    crs: str
    ordered_axes: tuple[str, str]
    well_known_scale_set: str
    origin: tuple[float, float]  # top-left corner, x/y (lon/lat for CRS84)
    cell0: float  # cell size at level 0, in CRS units
    width0: int  # matrix width at level 0 (height is 1)
    units_m: float  # metres per CRS unit (for scale denominators)
    levels: int  # levels 0..levels-1 in the standard definition
    served: tuple[int, int]  # the levels this server has tiles for

    @property
    def uri(self) -> str:
        """The registered URI of the tile matrix set."""
        return f"http://www.opengis.net/def/tilematrixset/OGC/1.0/{self.id}"

    def cell(self, z: int) -> float:
        """The cell size at level z, in CRS units."""
        return self.cell0 / 2**z

    def matrix(self, z: int) -> tuple[int, int]:
        """(width, height) of level z, in tiles."""
        return self.width0 * 2**z, 2**z

    def envelope(self, z: int, row: int, col: int) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of a tile in the CRS (lon/lat for CRS84)."""
        size = self.cell(z) * 256
        x0, y1 = self.origin[0] + col * size, self.origin[1] - row * size
        return x0, y1 - size, x0 + size, y1

    def lonlat_envelope(self, z: int, row: int, col: int) -> tuple[float, float, float, float]:
        """(west, south, east, north) of a tile in degrees."""
        x0, y0, x1, y1 = self.envelope(z, row, col)
        if self.units_m != 1.0:
            return x0, y0, x1, y1

        def lat(y: float) -> float:
            return math.degrees(math.atan(math.sinh(y / HALF_M * math.pi)))

        return x0 / HALF_M * 180, lat(y0), x1 / HALF_M * 180, lat(y1)

    def served_tile(self, z: int, row: int, col: int) -> bool:
        """Whether z/row/col is a tile of a level this server has."""
        if not self.served[0] <= z <= self.served[1]:  # first: matrix(z) is 2**z wide, a huge z would hang
            return False
        width, height = self.matrix(z)
        return 0 <= col < width and 0 <= row < height

    def tile_of(self, lon: float, lat: float, z: int) -> tuple[int, int]:
        """(row, col) of the tile of level z holding a lon/lat point."""
        width, height = self.matrix(z)
        if self.units_m == 1.0:  # Web Mercator
            x = (lon + 180) / 360
            y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
        else:
            x, y = (lon - self.origin[0]) / 360, (self.origin[1] - lat) / 180
        return min(max(int(y * height), 0), height - 1), min(max(int(x * width), 0), width - 1)

    def limits(self, box: tuple[float, float, float, float]) -> list[dict]:
        """tileMatrixSetLimits of the served levels for a lon/lat box."""
        out = []
        for z in range(self.served[0], self.served[1] + 1):
            row0, col0 = self.tile_of(box[0], box[3], z)
            row1, col1 = self.tile_of(box[2], box[1], z)
            out.append({"tileMatrix": str(z), "minTileRow": row0, "maxTileRow": row1, "minTileCol": col0,
                        "maxTileCol": col1})
        return out

    def definition(self) -> dict:
        """The OGC 2D TMS 2.0 JSON, with the 1.0 member names (identifier, supportedCRS, boundingBox
        corners, topLeftCorner) that GDAL before 3.7 reads: without them it answers "Invalid tiling matrix
        set name"."""
        matrices = [self._matrix(z) for z in range(self.levels)]
        x0, y1 = self.origin
        x1, y0 = x0 + self.cell0 * 256 * self.width0, y1 - self.cell0 * 256
        box = {"crs": self.crs, "lowerLeft": [x0, y0], "upperRight": [x1, y1], "lowerCorner": [x0, y0],
               "upperCorner": [x1, y1]}
        return {"id": self.id, "title": self.title, "uri": self.uri, "crs": self.crs,
                "orderedAxes": list(self.ordered_axes), "wellKnownScaleSet": self.well_known_scale_set,
                "boundingBox": box, "tileMatrices": matrices, "identifier": self.id, "supportedCRS": self.crs}

    def _matrix(self, z: int) -> dict:
        width, height = self.matrix(z)
        cell = self.cell(z)
        return {"id": str(z), "scaleDenominator": cell * self.units_m / PIXEL_M, "cellSize": cell,
                "cornerOfOrigin": "topLeft", "pointOfOrigin": list(self.origin), "tileWidth": 256,
                "tileHeight": 256, "matrixWidth": width, "matrixHeight": height,
                "identifier": str(z), "topLeftCorner": list(self.origin)}


WEB_MERCATOR_QUAD = TileMatrixSet(
    "WebMercatorQuad", "Google Maps Compatible for the World", "http://www.opengis.net/def/crs/EPSG/0/3857",
    ("X", "Y"), "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible", (-HALF_M, HALF_M),
    2 * HALF_M / 256, 1, 1.0, 25, (10, 20))
# Same longitude resolution as WebMercatorQuad one level up: level z here matches z + 1 there.
WORLD_CRS84_QUAD = TileMatrixSet(
    "WorldCRS84Quad", "CRS84 for the World", "http://www.opengis.net/def/crs/OGC/1.3/CRS84", ("Lon", "Lat"),
    "http://www.opengis.net/def/wkss/OGC/1.0/GoogleCRS84Quad", (-180.0, 90.0), 180 / 256, 2, METRES_PER_DEGREE,
    24, (9, 19))
TILE_MATRIX_SETS = {t.id: t for t in (WEB_MERCATOR_QUAD, WORLD_CRS84_QUAD)}
