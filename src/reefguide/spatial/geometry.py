"""Checking a GeoJSON Polygon or MultiPolygon before it is stored.

`check_polygon` raises `InvalidGeometry` (a 400) whose message says what is
wrong and where: "Ring 0 is not closed…", "Polygon 1, ring 0, position 3:
longitude 190 is outside -180 to 180", "Self-intersection at [146.05, -18.05]".
The geometry itself is never changed: what is stored is what was sent.
"""

from __future__ import annotations

import math
import re
from typing import Any

import shapely
from shapely.geometry import MultiPolygon as ShapelyMultiPolygon
from shapely.geometry import Polygon as ShapelyPolygon

from reefguide.errors import BadRequest

GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
MIN_RING_POSITIONS = 4

# shapely's `is_valid_reason`: "Self-intersection[146.05 -18.05]", "Hole lies outside shell[2 2]".
_REASON = re.compile(r"^(?P<reason>.*?)\s*\[(?P<x>[^\s\]]+) (?P<y>[^\s\]]+)[^\]]*\]$")

Ring = list[list[float]]


class InvalidGeometry(BadRequest):
    default_message = "Invalid geometry"


def check_polygon(geometry: object, *, max_positions: int) -> None:
    """Raise `InvalidGeometry` unless `geometry` is a valid GeoJSON Polygon or MultiPolygon
    with at most `max_positions` positions in all."""
    if not isinstance(geometry, dict) or "type" not in geometry:
        raise InvalidGeometry('The polygon must be a GeoJSON geometry object with a "type"')
    kind = geometry["type"]
    if kind not in GEOMETRY_TYPES:
        raise InvalidGeometry(f'Geometry type must be "Polygon" or "MultiPolygon", not {_show(kind)}')
    _check_plain_json({key: value for key, value in geometry.items() if key != "coordinates"})
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list):
        raise InvalidGeometry(f"A {kind} needs a coordinates array")

    # (name, rings) of each polygon; a MultiPolygon's are named by their index.
    parts: list[tuple[str, list[Any]]]
    if kind == "Polygon":
        parts = [("", coordinates)]
    else:
        if not coordinates:
            raise InvalidGeometry("The MultiPolygon has no polygons")
        parts = []
        for index, rings in enumerate(coordinates):
            if not isinstance(rings, list):
                raise InvalidGeometry(f"Polygon {index} must be an array of rings")
            parts.append((f"Polygon {index}", rings))

    # Shape and size first, so an oversized body is refused before any per-position work.
    total = 0
    for name, rings in parts:
        if not rings:
            raise InvalidGeometry(f"{name} has no rings" if name else "The polygon has no rings")
        for index, ring in enumerate(rings):
            if not isinstance(ring, list):
                raise InvalidGeometry(f"{_ring_name(name, index)} must be an array of positions")
            total += len(ring)
    if total > max_positions:
        raise InvalidGeometry(f"The polygon has {total:,} positions; at most {max_positions:,} are allowed")

    for name, rings in parts:
        for index, ring in enumerate(rings):
            _check_ring(_ring_name(name, index), ring)

    if kind == "Polygon":
        _check_validity(_shapely_polygon(coordinates), prefix="")
        return
    polygons = [_shapely_polygon(rings) for _, rings in parts]
    for index, polygon in enumerate(polygons):
        _check_validity(polygon, prefix=f"Polygon {index}: ")
    _check_validity(ShapelyMultiPolygon(polygons), prefix="The polygons intersect each other: ")


def _check_plain_json(members: dict[str, Any]) -> None:
    """Other members are stored and served as sent, so they must be what every JSON
    reader and both databases accept: Python's parser also reads NaN and Infinity,
    lone surrogates and NUL characters."""
    pending: list[object] = [members]
    while pending:  # not recursive: a deeply nested member must not exhaust the stack
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidGeometry("The polygon must not contain NaN or Infinity")
        elif isinstance(value, str) and not _storable(value):
            raise InvalidGeometry("The polygon's text must be valid Unicode without NUL characters")


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ring_name(polygon: str, index: int) -> str:
    return f"{polygon}, ring {index}" if polygon else f"Ring {index}"


def _check_ring(name: str, ring: list[Any]) -> None:
    # Positions first: a ring of numbers is a nesting level missing, not a short ring.
    for index, position in enumerate(ring):
        _check_position(f"{name}, position {index}", position)
    if len(ring) < MIN_RING_POSITIONS:
        raise InvalidGeometry(
            f"{name} has {len(ring)} positions; a ring needs at least {MIN_RING_POSITIONS} "
            "(the last repeating the first)"
        )
    if ring[0] != ring[-1]:
        raise InvalidGeometry(
            f"{name} is not closed: its last position {_show(ring[-1])} "
            f"must repeat its first {_show(ring[0])}"
        )


def _check_position(name: str, position: object) -> None:
    if (
        not isinstance(position, list)
        or len(position) not in (2, 3)
        or not all(_is_number(value) for value in position)
    ):
        raise InvalidGeometry(
            f"{name} must be [longitude, latitude] or [longitude, latitude, altitude], not {_show(position)}"
        )
    if not all(isinstance(value, int) or math.isfinite(value) for value in position):
        raise InvalidGeometry(f"{name} must hold finite numbers, not {_show(position)}")
    longitude, latitude = position[0], position[1]
    if not -180 <= longitude <= 180:
        raise InvalidGeometry(f"{name}: longitude {_show(longitude)} is outside -180 to 180")
    if not -90 <= latitude <= 90:
        raise InvalidGeometry(f"{name}: latitude {_show(latitude)} is outside -90 to 90")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shapely_polygon(rings: list[Ring]) -> ShapelyPolygon:
    # Validity is a question about the surface: altitudes play no part.
    shell, *holes = ([(position[0], position[1]) for position in ring] for ring in rings)
    return ShapelyPolygon(shell, holes)


def _check_validity(geometry: ShapelyPolygon | ShapelyMultiPolygon, *, prefix: str) -> None:
    if shapely.is_valid(geometry):
        return
    reason = str(shapely.is_valid_reason(geometry))
    match = _REASON.match(reason)
    if match is None:
        raise InvalidGeometry(f"{prefix}{reason}")
    x, y = _coordinate(match["x"]), _coordinate(match["y"])
    raise InvalidGeometry(f"{prefix}{match['reason']} at [{x}, {y}]")


def _coordinate(text: str) -> str:
    """A coordinate from a GEOS message, to a precision of about a millimetre."""
    try:
        value = round(float(text), 8)
    except ValueError:
        return text
    return _show(value)


def _show(value: object) -> str:
    """A value as it would appear in JSON, shortened if long."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, str):
        shown = f'"{value}"'
    elif isinstance(value, list):
        shown = "[" + ", ".join(_show(item) for item in value) + "]"
    elif value is None:
        shown = "null"
    elif isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, dict):
        shown = "an object"
    else:
        shown = str(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
