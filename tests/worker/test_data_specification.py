"""The DATA_SPECIFICATION_UPDATE handler: rasters under DATA_PATH read into the
specification it posts to /api/admin/data-specification."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import structlog

from reefguide.jobs.types import DataSpecificationUpdateInput, DataSpecificationUpdateResult, get_job_type
from reefguide.worker import ApiError, ApiKey, JobContext, RetryPolicy, WorkerClient
from reefguide.worker.command import WorkerConfigError, build_worker
from reefguide.worker.data_specification import SpecificationError, display_name, payload_prefix
from reefguide.worker.handlers import builtin_handlers, data_specification_handler
from reefguide.worker.rasters import RasterError, value_range
from reefguide.worker.settings import WorkerSettings, load_worker_settings
from tests.worker.geotiffs import write_geotiff
from tests.worker.test_settings import WORKER_VARIABLES

API = "http://api.test/api"
NAN = float("nan")


class SpecApi:
    """Answers POST /api/admin/data-specification as the API would, recording the body."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posted: list[dict[str, Any]] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/api/admin/data-specification")
        body = json.loads(await request.aread())
        self.posted.append(body)
        if self.status != 200:
            return httpx.Response(self.status, json={"message": "Invalid data specification"})
        regions = body["regions"]
        counts = {
            "criteria_count": len({c["name"] for r in regions for c in r["criteria"]}),
            "regions_count": len(regions),
            "regional_criteria_count": sum(len(r["criteria"]) for r in regions),
        }
        return httpx.Response(
            200, json={"message": "Data specification updated successfully", "updated": counts}
        )

    @property
    def spec(self) -> dict[str, Any]:
        (body,) = self.posted
        return body


class RecordingContext(JobContext[DataSpecificationUpdateInput]):
    def __init__(self) -> None:
        job_type = get_job_type("DATA_SPECIFICATION_UPDATE")
        assert job_type is not None
        super().__init__(
            job_type=job_type,
            job_id=1,
            assignment_id=1,
            attempt=1,
            input=DataSpecificationUpdateInput.model_validate({"cache_buster": 1}),
            output_dir=Path("."),
            log=structlog.get_logger(),
        )
        self.calls: list[tuple[float, str | None]] = []

    def progress(self, fraction: float, message: str | None = None) -> None:
        super().progress(fraction, message)
        self.calls.append((round(fraction, 3), message))


@pytest.fixture
async def api() -> AsyncIterator[tuple[SpecApi, WorkerClient]]:
    spec_api = SpecApi()
    transport = httpx.MockTransport(spec_api.handle)
    async with WorkerClient(
        API, ApiKey("rg_test"), transport=transport, retry=RetryPolicy(attempts=1)
    ) as client:
        yield spec_api, client


async def run_handler(
    client: WorkerClient, data_path: Path
) -> tuple[DataSpecificationUpdateResult, RecordingContext]:
    ctx = RecordingContext()
    result = await data_specification_handler(client, data_path)(ctx)
    assert isinstance(result, DataSpecificationUpdateResult)
    return result, ctx


def criterion(spec: dict[str, Any], region: str, name: str) -> dict[str, Any]:
    (found,) = [c for r in spec["regions"] if r["name"] == region for c in r["criteria"] if c["name"] == name]
    return found


# Reading rasters.


def test_the_range_leaves_out_the_nodata_value_and_nan(tmp_path: Path) -> None:
    values = np.array([[-9999, 1.5, NAN], [-3.25, -9999, 7.0]], dtype=np.float32)
    path = write_geotiff(tmp_path / "depth.tif", values, nodata=-9999)
    found = value_range(path)
    assert (found.min, found.max) == (-3.25, 7.0)


def test_without_a_nodata_tag_zero_is_a_value(tmp_path: Path) -> None:
    path = write_geotiff(tmp_path / "slope.tif", np.array([[0, 5], [9, 2]], dtype=np.uint8))
    found = value_range(path)
    assert (found.min, found.max) == (0.0, 9.0)


def test_tiles_padded_past_the_image_edge_are_cut_to_the_image(tmp_path: Path) -> None:
    # 20 x 37 in 16 x 16 tiles: the right and bottom tiles are mostly padding (zeros).
    values = np.arange(1, 20 * 37 + 1, dtype=np.int16).reshape(20, 37)
    path = write_geotiff(tmp_path / "rugosity.tif", values, tile=(16, 16))
    found = value_range(path)
    assert (found.min, found.max) == (1.0, 740.0)


def test_a_nodata_value_in_an_integer_raster_is_left_out(tmp_path: Path) -> None:
    values = np.array([[255, 3], [200, 255]], dtype=np.uint8)
    found = value_range(write_geotiff(tmp_path / "waves.tif", values, nodata=255, tile=(16, 16)))
    assert (found.min, found.max) == (3.0, 200.0)


def test_a_nan_nodata_tag_leaves_out_nan_only(tmp_path: Path) -> None:
    values = np.array([[NAN, -1.0], [4.0, NAN]], dtype=np.float64)
    found = value_range(write_geotiff(tmp_path / "turbidity.tif", values, nodata="nan"))
    assert (found.min, found.max) == (-1.0, 4.0)


def test_a_raster_with_no_valid_pixel_is_an_error(tmp_path: Path) -> None:
    values = np.array([[-9999, NAN]], dtype=np.float32)
    with pytest.raises(RasterError, match="no valid pixel"):
        value_range(write_geotiff(tmp_path / "empty.tif", values, nodata=-9999))


def test_a_file_that_is_not_a_tiff_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "depth.tif"
    path.write_text("not a tiff")
    with pytest.raises(RasterError):
        value_range(path)


# Names.


@pytest.mark.parametrize(
    ("name", "shown", "prefix"),
    [
        ("depth", "Depth", "depth_"),
        ("low_tide", "Low Tide", "low_tide_"),
        ("LowTide", "Low Tide", "low_tide_"),
        ("waves-height", "Waves Height", "waves_height_"),
        ("Cairns-Cooktown", "Cairns Cooktown", "cairns_cooktown_"),
    ],
)
def test_names_shown_and_prefixes_come_from_file_names(name: str, shown: str, prefix: str) -> None:
    assert display_name(name) == shown
    assert payload_prefix(name) == prefix


# The handler.


async def test_the_handler_posts_each_regions_criteria_with_their_ranges(
    tmp_path: Path, api: tuple[SpecApi, WorkerClient]
) -> None:
    spec_api, client = api
    data = tmp_path / "data"
    write_geotiff(data / "Cairns-Cooktown" / "depth.tif", [[-9999, -12.5], [NAN, -2.0]], nodata=-9999)
    write_geotiff(data / "Cairns-Cooktown" / "slope.tif", np.array([[1, 40], [7, 3]], dtype=np.uint8))
    write_geotiff(data / "Townsville" / "depth.tif", np.array([[-30, -4]], dtype=np.int16))
    (data / "empty-folder").mkdir()
    (data / ".hidden").mkdir()
    write_geotiff(data / ".hidden" / "depth.tif", [[1.0]])

    result, ctx = await run_handler(client, data)

    spec = spec_api.spec
    assert [region["name"] for region in spec["regions"]] == ["Cairns-Cooktown", "Townsville"]
    assert spec["regions"][0]["display_name"] == "Cairns Cooktown"
    assert "description" not in spec["regions"][0]
    assert criterion(spec, "Cairns-Cooktown", "depth") == {
        "name": "depth",
        "display_title": "Depth",
        "payload_prefix": "depth_",
        "min_val": -12.5,
        "max_val": -2.0,
        "default_min_val": -12.5,
        "default_max_val": -2.0,
    }
    slope = criterion(spec, "Cairns-Cooktown", "slope")
    assert (slope["min_val"], slope["max_val"]) == (1.0, 40.0)
    townsville = criterion(spec, "Townsville", "depth")
    assert (townsville["min_val"], townsville["max_val"]) == (-30.0, -4.0)
    assert result.model_dump() == {"criteria_count": 2, "regions_count": 2, "regional_criteria_count": 3}
    assert [fraction for fraction, _ in ctx.calls] == [0.333, 0.667, 1.0]
    assert ctx.calls[-1][1] == "3/3 rasters read (Townsville/depth.tif)"


async def test_metadata_files_name_and_describe_criteria_and_regions(
    tmp_path: Path, api: tuple[SpecApi, WorkerClient]
) -> None:
    spec_api, client = api
    data = tmp_path / "data"
    write_geotiff(data / "Moore" / "LowTide.tiff", [[-8.0, -1.0]])
    (data / "criteria.json").write_text(
        json.dumps(
            {
                "LowTide": {
                    "display_title": "Depth at low tide",
                    "display_subtitle": "Lowest astronomical tide",
                    "units": "m",
                    "min_tooltip": "Shallowest",
                    "max_tooltip": "Deepest",
                }
            }
        )
    )
    (data / "Moore" / "region.json").write_text(
        json.dumps({"display_name": "Moore Reef", "description": "Off Cairns"})
    )

    await run_handler(client, data)

    (region,) = spec_api.spec["regions"]
    assert (region["display_name"], region["description"]) == ("Moore Reef", "Off Cairns")
    (low_tide,) = region["criteria"]
    assert low_tide == {
        "name": "LowTide",
        "display_title": "Depth at low tide",
        "display_subtitle": "Lowest astronomical tide",
        "units": "m",
        "min_tooltip": "Shallowest",
        "max_tooltip": "Deepest",
        "payload_prefix": "low_tide_",
        "min_val": -8.0,
        "max_val": -1.0,
        "default_min_val": -8.0,
        "default_max_val": -1.0,
    }


async def test_an_unknown_key_in_criteria_json_fails_naming_the_file(
    tmp_path: Path, api: tuple[SpecApi, WorkerClient]
) -> None:
    spec_api, client = api
    write_geotiff(tmp_path / "Moore" / "depth.tif", [[1.0]])
    (tmp_path / "criteria.json").write_text(json.dumps({"depth": {"unit": "m"}}))
    with pytest.raises(SpecificationError, match=r"criteria\.json: depth\.unit"):
        await run_handler(client, tmp_path)
    assert spec_api.posted == []


async def test_a_raster_with_no_valid_pixel_fails_the_job_naming_the_file(
    tmp_path: Path, api: tuple[SpecApi, WorkerClient]
) -> None:
    spec_api, client = api
    write_geotiff(tmp_path / "Moore" / "depth.tif", [[1.0]])
    write_geotiff(tmp_path / "Moore" / "slope.tif", [[-1.0, -1.0]], nodata=-1)
    with pytest.raises(RasterError, match=r"Moore/slope\.tif: no valid pixel"):
        await run_handler(client, tmp_path)
    assert spec_api.posted == []


async def test_no_raster_under_the_data_path_fails_rather_than_delete_every_region(
    tmp_path: Path, api: tuple[SpecApi, WorkerClient]
) -> None:
    spec_api, client = api
    (tmp_path / "Moore").mkdir()
    with pytest.raises(SpecificationError, match="No region folder with a GeoTIFF"):
        await run_handler(client, tmp_path)
    with pytest.raises(SpecificationError, match="is not a folder"):
        await run_handler(client, tmp_path / "missing")
    assert spec_api.posted == []


async def test_a_refused_specification_fails_the_job_with_the_apis_message(tmp_path: Path) -> None:
    spec_api = SpecApi(status=400)
    write_geotiff(tmp_path / "Moore" / "depth.tif", [[1.0]])
    transport = httpx.MockTransport(spec_api.handle)
    async with WorkerClient(API, ApiKey("rg_test"), transport=transport) as client:
        with pytest.raises(ApiError, match="400: Invalid data specification"):
            await run_handler(client, tmp_path)


async def test_the_builtin_handlers_include_the_update_only_with_a_data_path(
    tmp_path: Path, api: tuple[SpecApi, WorkerClient]
) -> None:
    _, client = api
    assert sorted(builtin_handlers(client, data_path=None)) == ["TEST"]
    assert sorted(builtin_handlers(client, data_path=tmp_path)) == ["DATA_SPECIFICATION_UPDATE", "TEST"]


# The worker command.


def worker_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> WorkerSettings:
    for name in (*WORKER_VARIABLES, "DATA_PATH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env
    return load_worker_settings()


async def test_data_path_is_read_from_the_environment_and_blank_means_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert worker_settings(monkeypatch, tmp_path, DATA_PATH=str(tmp_path)).data_path == tmp_path
    assert worker_settings(monkeypatch, tmp_path, DATA_PATH=" ").data_path is None


async def test_with_a_data_path_the_worker_claims_data_specification_updates_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: tuple[SpecApi, WorkerClient]
) -> None:
    _, client = api
    with_data = worker_settings(monkeypatch, tmp_path, DATA_PATH=str(tmp_path))
    assert build_worker(with_data, client).job_types == ["DATA_SPECIFICATION_UPDATE", "TEST"]
    without = worker_settings(monkeypatch, tmp_path)
    assert build_worker(without, client).job_types == ["TEST"]


async def test_a_worker_asked_for_updates_without_a_data_path_does_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: tuple[SpecApi, WorkerClient]
) -> None:
    _, client = api
    settings = worker_settings(monkeypatch, tmp_path, JOB_TYPES="DATA_SPECIFICATION_UPDATE")
    with pytest.raises(WorkerConfigError, match="DATA_SPECIFICATION_UPDATE needs DATA_PATH"):
        build_worker(settings, client)
