"""Small real GeoTIFFs for the data specification tests, written with tifffile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tifffile

GDAL_NODATA = 42113


def write_geotiff(
    path: Path, values: Any, *, nodata: float | str | None = None, tile: tuple[int, int] | None = None
) -> Path:
    """`values` (a 2-D array) as a single-band TIFF, with a GDAL_NODATA tag when `nodata`
    is given; tiled when `tile` is, else in strips of 4 rows."""
    array = np.asarray(values)
    extratags = [] if nodata is None else [(GDAL_NODATA, "s", 0, str(nodata), True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    if tile is not None:
        tifffile.imwrite(path, array, tile=tile, extratags=extratags, compression="zlib")
    else:
        tifffile.imwrite(path, array, rowsperstrip=4, extratags=extratags)
    return path
