"""The range of values a GeoTIFF holds, read a tile or strip at a time (tifffile + numpy).

Missing pixels are left out: the GDAL_NODATA value (TIFF tag 42113) and NaN. Only the
first image (full resolution) is read; a cloud-optimised GeoTIFF's overviews are not.
Compression codecs beyond tifffile's own (zlib, LZMA, PackBits …), such as LZW or
JPEG, need the `imagecodecs` package installed beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

GDAL_NODATA = 42113


class RasterError(ValueError):
    """A file that cannot be read as a GeoTIFF, or holds no valid pixel."""


@dataclass(frozen=True)
class ValueRange:
    min: float
    max: float


def _nodata(page: tifffile.TiffPage) -> float | None:
    """The GDAL_NODATA value, or None when the tag is absent (tifffile says 0 then)."""
    tag = page.tags.get(GDAL_NODATA)
    if tag is None:
        return None
    text = str(tag.value).strip().replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        raise RasterError(f"GDAL_NODATA is not a number: {text[:50]!r}") from None
    return None if math.isnan(value) else value


def _segment_range(data: Any, nodata: float | None) -> tuple[float, float] | None:
    values = np.asarray(data)
    valid = np.ones(values.shape, dtype=bool)
    if np.issubdtype(values.dtype, np.floating):
        valid &= ~np.isnan(values)
    if nodata is not None:
        valid &= values != nodata
    if not valid.any():
        return None
    kept = values[valid]
    return float(kept.min()), float(kept.max())


def value_range(path: Path) -> ValueRange:
    """The smallest and largest valid pixel values of the GeoTIFF at `path`.

    Raises RasterError when the file is not a readable TIFF or has no valid pixel."""
    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages.first
            nodata = _nodata(page)
            low, high = math.inf, -math.inf
            for data, indices, _shape in page.segments():
                if data is None:  # a tile never written: all missing
                    continue
                # Tiles at the right and bottom edges are padded past the image: cut them.
                rows = min(data.shape[-3], page.imagelength - indices[-3])
                columns = min(data.shape[-2], page.imagewidth - indices[-2])
                found = _segment_range(data[..., :rows, :columns, :], nodata)
                if found is not None:
                    low, high = min(low, found[0]), max(high, found[1])
    except RasterError:
        raise
    except (tifffile.TiffFileError, OSError, ValueError, NotImplementedError, KeyError) as exc:
        # Not a TIFF, truncated, or compressed with a codec that is not installed.
        raise RasterError(f"{type(exc).__name__}: {exc}") from None
    if low > high:
        raise RasterError("no valid pixel (every one is nodata or NaN)")
    return ValueRange(min=low, max=high)
