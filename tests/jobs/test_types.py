"""Job type declarations: the built-ins' schemas, what a stored payload looks like, plugins."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from pydantic import BaseModel, RootModel, ValidationError
from structlog.testing import capture_logs

from reefguide.jobs import types
from reefguide.jobs.types import (
    ENTRY_POINT_GROUP,
    MAX_PAYLOAD_DEPTH,
    InputPayload,
    JobStatus,
    JobType,
    ResultPayload,
    get_job_type,
    job_types,
)


def job_type(name: str) -> JobType:
    declared = get_job_type(name)
    assert declared is not None
    return declared


def error_fields(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[Any, ...]]:
    return [tuple(error["loc"]) for error in exc.value.errors()]


CRITERIA: dict[str, Any] = {"region": "Townsville-Whitsunday", "reef_type": "slopes"}
MODEL_PARAM: dict[str, Any] = {"param_name": "N_seed_TA", "third_param_flag": False, "lower": 0, "upper": 1.5}
ADRIA: dict[str, Any] = {"data_package": "MOORE", "num_scenarios": 64, "model_params": [MODEL_PARAM]}
ADRIA_RESULT: dict[str, Any] = {
    "spatial_metrics_path": "spatial_metrics.geojson",
    "reef_boundaries_path": "reef_boundaries.geojson",
    "output_result_set_path": "result_set",
    "available_charts": {"Total cover": "charts/total_cover.vega.json"},
    "chart_metadata": {
        "Total cover": {
            "metric_name": "total_cover",
            "filename": "total_cover.vega.json",
            "y_label": "Cover (%)",
            "description": "Total coral cover",
            "generation_time_seconds": 1.25,
        }
    },
}


# --- Statuses ---------------------------------------------------------------------------------


def test_job_statuses_are_the_originals() -> None:
    assert [status.value for status in JobStatus] == [
        "PENDING",
        "IN_PROGRESS",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
        "TIMED_OUT",
    ]


def test_terminal_statuses_are_those_that_never_change_again() -> None:
    assert {status for status in JobStatus if status.is_terminal} == {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.TIMED_OUT,
    }
    terminal: frozenset[str] = JobStatus.TERMINAL
    assert terminal == {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}
    assert JobStatus.PENDING not in JobStatus.TERMINAL
    assert "TERMINAL" not in JobStatus.__members__


# --- The built-in declarations ------------------------------------------------------------------


def test_the_five_built_in_types_are_declared_with_the_originals_run_times() -> None:
    declared = {name: (t.max_run_seconds, t.max_attempts, t.priority) for name, t in job_types().items()}
    assert declared == {
        "TEST": (3600, 3, 0),
        "SUITABILITY_ASSESSMENT": (3600, 3, 0),
        "REGIONAL_ASSESSMENT": (3600, 3, 0),
        "DATA_SPECIFICATION_UPDATE": (3600, 3, 0),
        "ADRIA_MODEL_RUN": (4 * 3600, 3, 0),
    }


def test_an_unknown_type_is_none() -> None:
    assert get_job_type("CRITERIA_POLYGONS") is None
    assert get_job_type("test") is None


def test_the_declarations_import_without_the_server() -> None:
    # A worker on another machine imports these two modules and nothing of the server.
    code = (
        "import sys, reefguide.jobs.types, reefguide.jobs.hashing\n"
        "banned = ('fastapi', 'starlette', 'sqlalchemy', 'reefguide.db', 'reefguide.settings',"
        " 'reefguide.app', 'reefguide.auth', 'reefguide.users')\n"
        "print(sorted(m for m in sys.modules if m.startswith(banned)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- TEST ---------------------------------------------------------------------------------------


def test_test_input_gets_its_default_duration() -> None:
    assert job_type("TEST").parse_input({"id": 1}) == {"id": 1, "durationSeconds": 0}


def test_test_input_keeps_a_given_duration() -> None:
    assert job_type("TEST").parse_input({"id": 7, "durationSeconds": 2.5}) == {
        "id": 7,
        "durationSeconds": 2.5,
    }


def test_an_integral_float_is_an_integer() -> None:
    parsed = job_type("TEST").parse_input({"id": 3.0, "durationSeconds": 1.0})
    assert parsed == {"id": 3, "durationSeconds": 1}
    assert type(parsed["id"]) is int
    assert type(parsed["durationSeconds"]) is int


@pytest.mark.parametrize("bad_id", [1.5, "1", True, None, 2**53, -(2**53)])
def test_test_id_must_be_an_integer_javascript_holds_exactly(bad_id: object) -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("TEST").parse_input({"id": bad_id})
    assert error_fields(exc) == [("id",)]


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("TEST").parse_input({"id": 1, "durationSeconds": -1})
    assert error_fields(exc) == [("durationSeconds",)]


def test_the_duration_has_one_spelling_on_the_wire() -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("TEST").parse_input({"id": 1, "duration_seconds": 1})
    assert error_fields(exc) == [("duration_seconds",)]


def test_a_missing_id_is_named() -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("TEST").parse_input({})
    assert [(e["loc"], e["type"]) for e in exc.value.errors()] == [(("id",), "missing")]


@pytest.mark.parametrize("payload", [None, [], "{}", 1])
def test_an_input_must_be_an_object(payload: object) -> None:
    with pytest.raises(ValidationError):
        job_type("TEST").parse_input(payload)


def test_a_test_result_may_be_absent_empty_or_anything() -> None:
    test = job_type("TEST")
    assert test.parse_result(None) is None
    assert test.parse_result({}) == {}
    assert test.parse_result({"sleptSeconds": 0.5}) == {"sleptSeconds": 0.5}


def test_a_test_result_must_still_be_an_object() -> None:
    with pytest.raises(ValidationError):
        job_type("TEST").parse_result(["done"])


# --- Inputs: strictness, absent fields, numbers -----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["TEST", "SUITABILITY_ASSESSMENT", "REGIONAL_ASSESSMENT", "ADRIA_MODEL_RUN"],
)
def test_strict_inputs_refuse_an_unknown_field(name: str) -> None:
    valid = {
        "TEST": {"id": 1},
        "SUITABILITY_ASSESSMENT": {**CRITERIA, "x_dist": 450, "y_dist": 20},
        "REGIONAL_ASSESSMENT": CRITERIA,
        "ADRIA_MODEL_RUN": ADRIA,
    }[name]
    job_type(name).parse_input(valid)
    with pytest.raises(ValidationError) as exc:
        job_type(name).parse_input({**valid, "depth_minn": -10})
    assert error_fields(exc) == [("depth_minn",)]


def test_absent_optional_criteria_stay_absent() -> None:
    parsed = job_type("SUITABILITY_ASSESSMENT").parse_input({**CRITERIA, "x_dist": 450, "y_dist": 20})
    assert parsed == {**CRITERIA, "x_dist": 450, "y_dist": 20}


def test_a_null_optional_criterion_is_the_same_as_an_absent_one() -> None:
    parsed = job_type("REGIONAL_ASSESSMENT").parse_input({**CRITERIA, "depth_min": None, "slope_max": 40})
    assert parsed == {**CRITERIA, "slope_max": 40}


def test_every_shared_criterion_is_accepted() -> None:
    criteria = {
        f"{name}_{end}": -1.5
        for name in (
            "depth",
            "low_tide",
            "high_tide",
            "slope",
            "rugosity",
            "turbidity",
            "waves_period",
            "waves_height",
        )
        for end in ("min", "max")
    }
    assert job_type("REGIONAL_ASSESSMENT").parse_input({**CRITERIA, **criteria}) == {**CRITERIA, **criteria}


def test_suitability_needs_the_polygon_size() -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("SUITABILITY_ASSESSMENT").parse_input(CRITERIA)
    assert error_fields(exc) == [("x_dist",), ("y_dist",)]


def test_suitability_keeps_integers_the_julia_worker_reads_as_int64() -> None:
    parsed = job_type("SUITABILITY_ASSESSMENT").parse_input(
        {**CRITERIA, "x_dist": 450.0, "y_dist": 20, "threshold": 95, "depth_min": -10.5}
    )
    assert parsed == {**CRITERIA, "x_dist": 450, "y_dist": 20, "threshold": 95, "depth_min": -10.5}
    assert [type(parsed[key]) for key in ("x_dist", "y_dist", "threshold", "depth_min")] == [
        int,
        int,
        int,
        float,
    ]


@pytest.mark.parametrize("bad", ["10", True, float("nan"), float("inf"), float("-inf"), [1]])
def test_a_number_must_be_a_finite_number(bad: object) -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("SUITABILITY_ASSESSMENT").parse_input({**CRITERIA, "x_dist": bad, "y_dist": 20})
    assert error_fields(exc) == [("x_dist",)]


def test_region_must_be_a_string() -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("REGIONAL_ASSESSMENT").parse_input({"region": 4, "reef_type": "flats"})
    assert error_fields(exc) == [("region",)]


def test_regional_takes_the_greyscale_cache_buster_by_its_wire_name() -> None:
    regional = job_type("REGIONAL_ASSESSMENT")
    assert regional.parse_input({**CRITERIA, "cogColor": "greyscale"}) == {
        **CRITERIA,
        "cogColor": "greyscale",
    }
    with pytest.raises(ValidationError) as exc:
        regional.parse_input({**CRITERIA, "cogColor": "red"})
    assert error_fields(exc) == [("cogColor",)]


def test_regional_has_no_polygon_size() -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("REGIONAL_ASSESSMENT").parse_input({**CRITERIA, "x_dist": 450})
    assert error_fields(exc) == [("x_dist",)]


def test_data_specification_update_takes_any_extra_field() -> None:
    update = job_type("DATA_SPECIFICATION_UPDATE")
    assert update.parse_input({}) == {}
    assert update.parse_input({"cache_buster": 1712000000000, "reason": {"by": "cron"}}) == {
        "cache_buster": 1712000000000,
        "reason": {"by": "cron"},
    }


def test_data_specification_cache_buster_is_a_number() -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("DATA_SPECIFICATION_UPDATE").parse_input({"cache_buster": "now"})
    assert error_fields(exc) == [("cache_buster",)]


def test_a_payload_nested_too_deeply_is_refused() -> None:
    update = job_type("DATA_SPECIFICATION_UPDATE")
    payload: dict[str, Any] = {}
    innermost = payload
    for _ in range(MAX_PAYLOAD_DEPTH - 1):
        innermost["a"] = {}
        innermost = innermost["a"]
    update.parse_input(payload)
    innermost["a"] = [{}]
    with pytest.raises(ValidationError, match="nested more than"):
        update.parse_input(payload)


# --- ADRIA_MODEL_RUN ----------------------------------------------------------------------------


def test_adria_gets_the_default_rcp_scenario() -> None:
    assert job_type("ADRIA_MODEL_RUN").parse_input(ADRIA) == {**ADRIA, "rcp_scenario": "45"}


def test_adria_keeps_a_given_rcp_scenario_and_third_parameter() -> None:
    param = {**MODEL_PARAM, "third_param_flag": True, "optional_third": 0.25}
    payload = {**ADRIA, "model_params": [param], "rcp_scenario": "85"}
    assert job_type("ADRIA_MODEL_RUN").parse_input(payload) == payload


@pytest.mark.parametrize("count", [0, -4, 6, 100, 2.5])
def test_adria_scenario_count_is_a_positive_power_of_two(count: object) -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("ADRIA_MODEL_RUN").parse_input({**ADRIA, "num_scenarios": count})
    assert error_fields(exc) == [("num_scenarios",)]


@pytest.mark.parametrize("count", [1, 2, 64, 4096])
def test_adria_accepts_powers_of_two(count: int) -> None:
    assert (
        job_type("ADRIA_MODEL_RUN").parse_input({**ADRIA, "num_scenarios": count})["num_scenarios"] == count
    )


@pytest.mark.parametrize(
    ("field", "value"), [("data_package", "REEF"), ("rcp_scenario", "50"), ("rcp_scenario", 45)]
)
def test_adria_choices_are_closed(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as exc:
        job_type("ADRIA_MODEL_RUN").parse_input({**ADRIA, field: value})
    assert error_fields(exc) == [(field,)]


def test_an_adria_model_parameter_error_names_its_place() -> None:
    params = [MODEL_PARAM, {**MODEL_PARAM, "third_param_flag": "yes", "lower": None}]
    with pytest.raises(ValidationError) as exc:
        job_type("ADRIA_MODEL_RUN").parse_input({**ADRIA, "model_params": params})
    assert error_fields(exc) == [("model_params", 1, "third_param_flag"), ("model_params", 1, "lower")]


# --- Results ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(types.job_types()))
def test_no_result_is_none_for_every_type(name: str) -> None:
    assert job_type(name).parse_result(None) is None


def test_an_assessment_result_needs_its_path() -> None:
    assert job_type("SUITABILITY_ASSESSMENT").parse_result({"geojson_path": "suitable.geojson"}) == {
        "geojson_path": "suitable.geojson"
    }
    with pytest.raises(ValidationError) as exc:
        job_type("REGIONAL_ASSESSMENT").parse_result({})
    assert error_fields(exc) == [("cog_path",)]


def test_a_result_keeps_fields_a_newer_worker_adds() -> None:
    result = {"cog_path": "regional_assessment.tiff", "score_cog_path": "regional_assessment_score.tiff"}
    assert job_type("REGIONAL_ASSESSMENT").parse_result(result) == result


def test_an_adria_result_is_validated_down_to_its_chart_metadata() -> None:
    adria = job_type("ADRIA_MODEL_RUN")
    assert adria.parse_result(ADRIA_RESULT) == ADRIA_RESULT
    broken = {**ADRIA_RESULT, "chart_metadata": {"Total cover": {"metric_name": "total_cover"}}}
    with pytest.raises(ValidationError) as exc:
        adria.parse_result(broken)
    assert ("chart_metadata", "Total cover", "filename") in error_fields(exc)


def test_a_data_specification_update_result_is_an_object() -> None:
    assert job_type("DATA_SPECIFICATION_UPDATE").parse_result({}) == {}


# --- Declaring a type ---------------------------------------------------------------------------


class EchoInput(InputPayload):
    text: str
    repeat: int = 1


class EchoResult(ResultPayload):
    echoed: str


ECHO = JobType("ECHO", EchoInput, EchoResult, max_run_seconds=30, max_attempts=5, priority=10)


@pytest.mark.parametrize("name", ["", "echo", "1ECHO", "ECHO-2", "E" * 65])
def test_a_type_name_is_an_upper_case_identifier(name: str) -> None:
    with pytest.raises(ValueError, match="upper-case identifier"):
        JobType(name, EchoInput, None, max_run_seconds=30)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_run_seconds": 0},
        {"max_run_seconds": 30, "max_attempts": 0},
        {"max_run_seconds": 30, "input": dict},
        {"max_run_seconds": 30, "input": RootModel[list[int]]},
        {"max_run_seconds": 30, "result": int},
    ],
)
def test_a_declaration_that_cannot_work_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Job type ECHO"):
        JobType(**{"name": "ECHO", "input": EchoInput, "result": None, **kwargs})


def test_a_type_without_a_result_schema_takes_any_object() -> None:
    bare = JobType("BARE", EchoInput, None, max_run_seconds=30)
    assert bare.parse_result({"anything": [1, 2.0], "nan": float("nan")}) == {
        "anything": [1, 2.0],
        "nan": None,
    }
    with pytest.raises(ValidationError):
        bare.parse_result("done")


def test_a_plain_pydantic_model_works_as_an_input() -> None:
    class Plain(BaseModel):
        n: int

    assert JobType("PLAIN", Plain, None, max_run_seconds=30).parse_input({"n": 2}) == {"n": 2}


# --- Plugins ------------------------------------------------------------------------------------

FOO = JobType("FOO", EchoInput, None, max_run_seconds=30)
OTHER_FOO = JobType("FOO", EchoInput, EchoResult, max_run_seconds=60)
BAR = JobType("BAR", EchoInput, None, max_run_seconds=30)
TEST_LOOKALIKE = JobType("TEST", EchoInput, None, max_run_seconds=30)
A_LIST = [ECHO, BAR]
NOT_A_TYPE = 42
SOME_NOT_TYPES = [ECHO, "BAR"]


def _entry_point(name: str, attribute: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{attribute}", group=ENTRY_POINT_GROUP)


@pytest.fixture(autouse=True)
def fresh_job_types() -> Iterator[None]:
    job_types.cache_clear()
    yield
    job_types.cache_clear()


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """The entry points the fake installation offers; a test appends to it."""
    offered: list[EntryPoint] = []

    def entry_points(*, group: str) -> list[EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return list(offered)

    monkeypatch.setattr(types, "entry_points", entry_points)
    return offered


def test_a_plugin_adds_a_type(installed: list[EntryPoint]) -> None:
    installed.append(_entry_point("echo", "ECHO"))
    assert get_job_type("ECHO") is ECHO
    assert get_job_type("TEST") is not None
    assert job_type("ECHO").parse_input({"text": "hi"}) == {"text": "hi", "repeat": 1}


def test_a_plugin_may_declare_several_types(installed: list[EntryPoint]) -> None:
    installed.append(_entry_point("several", "A_LIST"))
    assert {"ECHO", "BAR"} <= set(job_types())


def test_a_broken_plugin_is_logged_and_skipped(installed: list[EntryPoint]) -> None:
    installed += [
        EntryPoint(name="gone", value="no_such_module_for_reefguide:TYPES", group=ENTRY_POINT_GROUP),
        _entry_point("missing", "NO_SUCH_ATTRIBUTE"),
        _entry_point("number", "NOT_A_TYPE"),
        _entry_point("mixed", "SOME_NOT_TYPES"),
        _entry_point("good", "BAR"),
    ]
    with capture_logs() as logs:
        names = set(job_types())
    assert names == {*(t.name for t in types.BUILTIN_JOB_TYPES), "BAR"}
    skipped = [entry["entry_point"] for entry in logs if entry["event"].endswith("it failed to load")]
    assert sorted(skipped) == [
        "gone = no_such_module_for_reefguide:TYPES",
        f"missing = {__name__}:NO_SUCH_ATTRIBUTE",
        f"mixed = {__name__}:SOME_NOT_TYPES",
        f"number = {__name__}:NOT_A_TYPE",
    ]
    assert all(entry["log_level"] == "error" for entry in logs)


def test_a_plugin_cannot_replace_a_built_in(installed: list[EntryPoint]) -> None:
    installed += [_entry_point("impostor", "TEST_LOOKALIKE"), _entry_point("bar", "BAR")]
    with capture_logs() as logs:
        assert get_job_type("TEST") is types.BUILTIN_JOB_TYPES[0]
        assert get_job_type("BAR") is BAR
    assert [(entry["event"], entry["job_type"]) for entry in logs] == [
        ("job type plugin skipped: it may not replace a built-in type", "TEST")
    ]


def test_a_name_two_plugins_declare_differently_is_used_by_neither(installed: list[EntryPoint]) -> None:
    installed += [
        _entry_point("first", "FOO"),
        _entry_point("second", "OTHER_FOO"),
        _entry_point("bar", "BAR"),
    ]
    with capture_logs() as logs:
        assert get_job_type("FOO") is None
        assert get_job_type("BAR") is BAR
    assert [entry["job_type"] for entry in logs] == ["FOO"]
    assert logs[0]["entry_points"] == [f"first = {__name__}:FOO", f"second = {__name__}:OTHER_FOO"]


def test_the_same_declaration_offered_twice_is_no_conflict(installed: list[EntryPoint]) -> None:
    installed += [_entry_point("one", "BAR"), _entry_point("two", "BAR")]
    assert get_job_type("BAR") is BAR


def test_plugins_are_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def entry_points(*, group: str) -> list[EntryPoint]:
        calls.append(group)
        return [_entry_point("echo", "ECHO")]

    monkeypatch.setattr(types, "entry_points", entry_points)
    job_types()
    assert get_job_type("ECHO") is ECHO
    assert get_job_type("NOPE") is None
    assert calls == [ENTRY_POINT_GROUP]


def test_the_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        job_types()["ECHO"] = ECHO  # type: ignore[index]
