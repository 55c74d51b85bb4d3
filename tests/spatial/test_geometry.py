"""What `check_polygon` accepts, and what each refusal says."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from reefguide.spatial.geometry import InvalidGeometry, check_polygon

SQUARE: list[list[float]] = [[146.0, -18.0], [146.1, -18.0], [146.1, -18.1], [146.0, -18.1], [146.0, -18.0]]
HOLE: list[list[float]] = [
    [146.02, -18.02],
    [146.08, -18.02],
    [146.08, -18.08],
    [146.02, -18.08],
    [146.02, -18.02],
]
FAR_SQUARE: list[list[float]] = [
    [147.0, -19.0],
    [147.1, -19.0],
    [147.1, -19.1],
    [147.0, -19.1],
    [147.0, -19.0],
]
BOWTIE: list[list[float]] = [[146.0, -18.0], [146.1, -18.1], [146.1, -18.0], [146.0, -18.1], [146.0, -18.0]]


def polygon(*rings: list[list[Any]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [copy.deepcopy(ring) for ring in rings]}


def multi(*polygons: list[list[list[Any]]]) -> dict[str, Any]:
    return {"type": "MultiPolygon", "coordinates": copy.deepcopy(list(polygons))}


def refusal(geometry: object, max_positions: int = 100_000) -> str:
    with pytest.raises(InvalidGeometry) as caught:
        check_polygon(geometry, max_positions=max_positions)
    assert caught.value.status_code == 400
    return caught.value.message


@pytest.mark.parametrize(
    "geometry",
    [
        polygon(SQUARE),
        polygon(SQUARE, HOLE),
        polygon([[x, y, 5.0] for x, y in SQUARE]),
        polygon([[146, -18], [147, -18], [147, -19], [146, -18]]),
        polygon([[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]),
        multi([SQUARE, HOLE], [FAR_SQUARE]),
        {**polygon(SQUARE), "bbox": [146.0, -18.1, 146.1, -18.0], "name": "foreign members are kept"},
    ],
    ids=["square", "with hole", "with altitude", "integers", "whole world", "multipolygon", "extra members"],
)
def test_valid_polygons_pass(geometry: dict[str, Any]) -> None:
    before = copy.deepcopy(geometry)
    check_polygon(geometry, max_positions=100_000)
    assert geometry == before


def test_an_unclosed_ring_says_which_ring() -> None:
    message = refusal(polygon([*SQUARE[:-1], [146.05, -18.0]]))
    assert message.startswith("Ring 0 is not closed")
    assert "[146.05, -18]" in message
    assert "[146, -18]" in message


def test_an_unclosed_hole_is_ring_1() -> None:
    assert refusal(polygon(SQUARE, [*HOLE[:-1], [146.03, -18.02]])).startswith("Ring 1 is not closed")


def test_a_ring_of_three_positions_is_too_short() -> None:
    message = refusal(polygon([[146.0, -18.0], [146.1, -18.0], [146.0, -18.0]]))
    assert message == "Ring 0 has 3 positions; a ring needs at least 4 (the last repeating the first)"


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        ([190, -18.05], "Ring 0, position 2: longitude 190 is outside -180 to 180"),
        ([-180.5, -18.05], "Ring 0, position 2: longitude -180.5 is outside -180 to 180"),
        ([146.05, 91], "Ring 0, position 2: latitude 91 is outside -90 to 90"),
        ([146.05, -90.25], "Ring 0, position 2: latitude -90.25 is outside -90 to 90"),
    ],
)
def test_an_out_of_range_position_says_which_and_why(position: list[float], expected: str) -> None:
    ring = [SQUARE[0], SQUARE[1], position, SQUARE[3], SQUARE[4]]
    assert refusal(polygon(ring)) == expected


@pytest.mark.parametrize(
    "position",
    [[146.0], [146.0, -18.0, 1.0, 2.0], ["146", -18.0], [True, -18.0], None, {"lon": 146}],
    ids=["one value", "four values", "a string", "a boolean", "null", "an object"],
)
def test_a_malformed_position_says_where(position: object) -> None:
    ring = [SQUARE[0], position, SQUARE[2], SQUARE[3], SQUARE[4]]
    message = refusal(polygon(ring))
    assert message.startswith(
        "Ring 0, position 1 must be [longitude, latitude] or [longitude, latitude, altitude]"
    )


def test_nan_in_a_position_is_refused() -> None:
    ring = [SQUARE[0], [float("nan"), -18.0], SQUARE[2], SQUARE[3], SQUARE[4]]
    assert refusal(polygon(ring)).startswith("Ring 0, position 1 must hold finite numbers")


def test_nan_in_a_foreign_member_is_refused() -> None:
    geometry = {**polygon(SQUARE), "weights": {"a": [1.0, float("inf")]}}
    assert refusal(geometry) == "The polygon must not contain NaN or Infinity"


@pytest.mark.parametrize("text", ["\ud800", "a\x00b"], ids=["lone surrogate", "NUL"])
def test_unstorable_text_in_a_foreign_member_is_refused(text: str) -> None:
    message = "The polygon's text must be valid Unicode without NUL characters"
    assert refusal({**polygon(SQUARE), "name": text}) == message
    assert refusal({**polygon(SQUARE), "tags": {text: 1}}) == message


def test_a_self_intersection_gives_its_location() -> None:
    assert refusal(polygon(BOWTIE)) == "Self-intersection at [146.05, -18.05]"


def test_a_hole_outside_its_shell_is_refused_with_a_location() -> None:
    outside = [[150.0, -20.0], [150.1, -20.0], [150.1, -20.1], [150.0, -20.0]]
    assert refusal(polygon(SQUARE, outside)) == "Hole lies outside shell at [150, -20]"


def test_a_multipolygon_part_is_named_by_its_index() -> None:
    assert refusal(multi([SQUARE], [BOWTIE])) == "Polygon 1: Self-intersection at [146.05, -18.05]"
    assert refusal(multi([FAR_SQUARE], [[*SQUARE[:-1], [146.05, -18.0]]])).startswith(
        "Polygon 1, ring 0 is not closed"
    )
    ring = [FAR_SQUARE[0], FAR_SQUARE[1], [147.1, 95], FAR_SQUARE[3], FAR_SQUARE[4]]
    assert (
        refusal(multi([SQUARE], [ring])) == "Polygon 1, ring 0, position 2: latitude 95 is outside -90 to 90"
    )


def test_overlapping_multipolygon_parts_are_refused() -> None:
    shifted = [[x + 0.05, y] for x, y in SQUARE]
    message = refusal(multi([SQUARE], [shifted]))
    assert message.startswith("The polygons intersect each other: Self-intersection at [")


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (
            {"type": "Point", "coordinates": [146.0, -18.0]},
            'Geometry type must be "Polygon" or "MultiPolygon", not "Point"',
        ),
        (
            {"type": "Feature", "geometry": None},
            'Geometry type must be "Polygon" or "MultiPolygon", not "Feature"',
        ),
        ({"coordinates": [SQUARE]}, 'The polygon must be a GeoJSON geometry object with a "type"'),
        ([SQUARE], 'The polygon must be a GeoJSON geometry object with a "type"'),
        ("POLYGON ((0 0, 1 0, 1 1, 0 0))", 'The polygon must be a GeoJSON geometry object with a "type"'),
        ({"type": "Polygon"}, "A Polygon needs a coordinates array"),
        ({"type": "Polygon", "coordinates": []}, "The polygon has no rings"),
        (
            {"type": "Polygon", "coordinates": [[146.0, -18.0]]},
            "Ring 0, position 0 must be [longitude, latitude] or [longitude, latitude, altitude], not 146",
        ),
        ({"type": "MultiPolygon", "coordinates": []}, "The MultiPolygon has no polygons"),
        ({"type": "MultiPolygon", "coordinates": [[SQUARE], []]}, "Polygon 1 has no rings"),
        (
            {"type": "MultiPolygon", "coordinates": [SQUARE[0]]},
            "Polygon 0, ring 0 must be an array of positions",
        ),
    ],
)
def test_wrong_types_and_shapes_are_named(geometry: object, expected: str) -> None:
    assert refusal(geometry) == expected


def test_too_many_positions_are_refused_with_the_count_and_the_limit() -> None:
    assert refusal(polygon(SQUARE, HOLE), max_positions=9) == (
        "The polygon has 10 positions; at most 9 are allowed"
    )
    check_polygon(polygon(SQUARE, HOLE), max_positions=10)


def test_the_position_limit_counts_every_part_of_a_multipolygon() -> None:
    assert refusal(multi([SQUARE], [FAR_SQUARE]), max_positions=9).startswith("The polygon has 10 positions")


def test_a_large_polygon_within_the_limit_passes() -> None:
    count = 100_000
    ring = [
        [146 + 0.5 * math.cos(2 * math.pi * i / count), -18 + 0.5 * math.sin(2 * math.pi * i / count)]
        for i in range(count - 1)
    ]
    ring.append(ring[0])
    check_polygon(polygon(ring), max_positions=count)
    assert refusal(polygon(ring), max_positions=count - 1).startswith("The polygon has 100,000 positions")
