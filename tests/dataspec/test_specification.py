"""POST /api/admin/data-specification replaces the whole specification; analysts read
it through /api/admin/regions and /api/admin/criteria/{region}/ranges."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.callers import Caller
from tests.dataspec.conftest import criterion, post_spec, ranges, region, regions

DEPTH = criterion("depth", -50, -2, units="m", display_subtitle="Water depth", min_tooltip="Deepest")
SLOPE = criterion("slope", 0, 40.5, units="degrees")
TURBIDITY = criterion("turbidity", 0, 58)


async def test_the_posted_specification_is_stored_and_counted(
    client: httpx.AsyncClient, worker: Caller, analyst: Caller
) -> None:
    response = await post_spec(
        client,
        worker,
        region("Cairns-Cooktown", DEPTH, SLOPE, description="Northern reefs"),
        region("Townsville-Whitsunday", DEPTH),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "message": "Data specification updated successfully",
        "updated": {"criteria_count": 2, "regions_count": 2, "regional_criteria_count": 3},
    }
    assert await regions(client, analyst) == [
        {
            "name": "Cairns-Cooktown",
            "display_name": "Cairns Cooktown",
            "description": "Northern reefs",
            "criteria_count": 2,
        },
        {
            "name": "Townsville-Whitsunday",
            "display_name": "Townsville Whitsunday",
            "description": None,
            "criteria_count": 1,
        },
    ]


async def test_ranges_are_keyed_by_criterion_name_in_the_originals_shape(
    client: httpx.AsyncClient, admin: Caller, analyst: Caller
) -> None:
    depth = {**DEPTH, "default_min_val": -30, "default_max_val": -5}
    assert (await post_spec(client, admin, region("Cairns-Cooktown", depth, SLOPE))).status_code == 200
    found = await ranges(client, analyst, "Cairns-Cooktown")
    assert list(found) == ["depth", "slope"]
    assert found["depth"] == {
        "id": "depth",
        "min_val": -50,
        "max_val": -2,
        "display_title": "Depth",
        "display_subtitle": "Water depth",
        "units": "m",
        "min_tooltip": "Deepest",
        "max_tooltip": None,
        "default_min_val": -30,
        "default_max_val": -5,
        "payload_property_prefix": "depth_",
    }
    assert (found["slope"]["max_val"], found["slope"]["units"]) == (40.5, "degrees")


async def test_a_new_specification_replaces_the_old_one_whole(
    client: httpx.AsyncClient, admin: Caller, analyst: Caller
) -> None:
    await post_spec(client, admin, region("Cairns-Cooktown", DEPTH, SLOPE), region("Mackay", TURBIDITY))
    response = await post_spec(
        client,
        admin,
        region("Cairns-Cooktown", {**DEPTH, "display_title": "Depth (LAT)", "max_val": -1}),
        region("Townsville", SLOPE),
    )
    assert response.json()["updated"] == {
        "criteria_count": 2,
        "regions_count": 2,
        "regional_criteria_count": 2,
    }
    assert [(r["name"], r["criteria_count"]) for r in await regions(client, analyst)] == [
        ("Cairns-Cooktown", 1),
        ("Townsville", 1),
    ]
    cairns = await ranges(client, analyst, "Cairns-Cooktown")
    assert list(cairns) == ["depth"]
    assert (cairns["depth"]["display_title"], cairns["depth"]["max_val"]) == ("Depth (LAT)", -1)
    gone = await client.get("/api/admin/criteria/Mackay/ranges", headers=analyst.headers)
    assert gone.status_code == 404


async def test_an_empty_specification_deletes_every_region(
    client: httpx.AsyncClient, admin: Caller, analyst: Caller
) -> None:
    await post_spec(client, admin, region("Cairns-Cooktown", DEPTH))
    response = await post_spec(client, admin)
    assert response.json()["updated"] == {
        "criteria_count": 0,
        "regions_count": 0,
        "regional_criteria_count": 0,
    }
    assert await regions(client, analyst) == []


async def test_a_region_may_have_no_criteria(
    client: httpx.AsyncClient, admin: Caller, analyst: Caller
) -> None:
    assert (await post_spec(client, admin, region("Moore"))).status_code == 200
    assert await ranges(client, analyst, "Moore") == {}
    assert [r["criteria_count"] for r in await regions(client, analyst)] == [0]


async def test_an_unknown_region_is_404(client: httpx.AsyncClient, analyst: Caller) -> None:
    response = await client.get("/api/admin/criteria/Atlantis/ranges", headers=analyst.headers)
    assert response.status_code == 404
    assert response.json() == {"message": "Region not found"}


# Validation: nothing is stored when the specification is refused.


def errors_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 400, response.text
    errors: list[dict[str, str]] = response.json()["errors"]
    return errors


async def test_bounds_out_of_order_are_400_naming_the_field(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await post_spec(
        client,
        admin,
        region(
            "Moore",
            DEPTH,
            {**SLOPE, "min_val": 10, "max_val": 5, "default_min_val": 5, "default_max_val": 5},
            {**TURBIDITY, "default_min_val": -1},
        ),
    )
    assert response.json()["message"] == "Invalid data specification"
    fields = {error["field"]: error["message"] for error in errors_of(response)}
    assert fields["regions.0.criteria.1.max_val"] == "Must not be less than min_val"
    assert fields["regions.0.criteria.2.default_min_val"] == "Must lie between min_val and max_val"


async def test_defaults_in_reverse_are_400(client: httpx.AsyncClient, admin: Caller) -> None:
    reversed_defaults = {**DEPTH, "default_min_val": -3, "default_max_val": -40}
    errors = errors_of(await post_spec(client, admin, region("Moore", reversed_defaults)))
    assert errors == [
        {"field": "regions.0.criteria.0.default_max_val", "message": "Must not be less than default_min_val"}
    ]


async def test_a_region_listed_twice_is_400_naming_it(client: httpx.AsyncClient, admin: Caller) -> None:
    errors = errors_of(await post_spec(client, admin, region("Moore", DEPTH), region("Moore", SLOPE)))
    assert errors == [{"field": "regions.1.name", "message": "Region Moore is listed twice"}]


async def test_a_criterion_listed_twice_in_a_region_is_400_naming_it(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    errors = errors_of(await post_spec(client, admin, region("Moore", DEPTH, SLOPE, DEPTH)))
    assert errors == [
        {"field": "regions.0.criteria.2.name", "message": "Criterion depth is listed twice in region Moore"}
    ]


async def test_a_criterion_described_differently_in_two_regions_is_400(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    other_units = {**DEPTH, "units": "ft"}
    errors = errors_of(
        await post_spec(client, admin, region("Moore", DEPTH), region("Mackay", SLOPE, other_units))
    )
    assert errors == [
        {
            "field": "regions.1.criteria.1.units",
            "message": "Criterion depth is described differently in region Moore",
        }
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"min_val": "1"}, "regions.0.criteria.0.min_val"),
        ({"max_val": True}, "regions.0.criteria.0.max_val"),
        ({"name": "  "}, "regions.0.criteria.0.name"),
        ({"payload_prefix": None}, "regions.0.criteria.0.payload_prefix"),
        ({"display_title": "x" * 501}, "regions.0.criteria.0.display_title"),
    ],
)
async def test_malformed_criteria_are_400_naming_the_field(
    client: httpx.AsyncClient, admin: Caller, change: dict[str, Any], field: str
) -> None:
    errors = errors_of(await post_spec(client, admin, region("Moore", {**DEPTH, **change})))
    assert [error["field"] for error in errors] == [field]


async def test_a_refused_specification_changes_nothing(
    client: httpx.AsyncClient, admin: Caller, analyst: Caller
) -> None:
    await post_spec(client, admin, region("Moore", DEPTH))
    refused = await post_spec(client, admin, region("Mackay", SLOPE), region("Mackay", SLOPE))
    assert refused.status_code == 400
    assert [r["name"] for r in await regions(client, analyst)] == ["Moore"]


# Who may.


async def test_an_analyst_may_read_but_not_write_the_specification(
    client: httpx.AsyncClient, analyst: Caller
) -> None:
    response = await post_spec(client, analyst, region("Moore", DEPTH))
    assert response.status_code == 403
    assert (await client.get("/api/admin/regions", headers=analyst.headers)).status_code == 200


async def test_a_default_user_may_not_read_the_specification(
    client: httpx.AsyncClient, admin: Caller, default_user: Caller
) -> None:
    await post_spec(client, admin, region("Moore", DEPTH))
    for path in ("/api/admin/regions", "/api/admin/criteria/Moore/ranges"):
        response = await client.get(path, headers=default_user.headers)
        assert response.status_code == 403, path
        assert set(response.json()) == {"message"}
    assert (await post_spec(client, default_user, region("Moore", DEPTH))).status_code == 403


async def test_a_worker_may_write_but_not_read_the_specification(
    client: httpx.AsyncClient, worker: Caller
) -> None:
    assert (await post_spec(client, worker, region("Moore", DEPTH))).status_code == 200
    assert (await client.get("/api/admin/regions", headers=worker.headers)).status_code == 403


async def test_without_credentials_every_route_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/admin/regions")).status_code == 401
    assert (await client.get("/api/admin/criteria/Moore/ranges")).status_code == 401
    assert (await client.post("/api/admin/data-specification", json={"regions": []})).status_code == 401
    assert (await client.post("/api/admin/data-specification-update")).status_code == 401
