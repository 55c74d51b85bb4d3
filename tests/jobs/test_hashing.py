"""The cache key: the original's normalisation, JSON.stringify byte for byte, and the double sha256."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
from typing import Any

import pytest

from reefguide.jobs.hashing import JsonValue, job_hash, normalize, payload_hash, stringify
from reefguide.jobs.types import get_job_type


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_then_hash(type_name: str, payload: dict[str, Any]) -> str:
    job_type = get_job_type(type_name)
    assert job_type is not None
    return job_hash(type_name, job_type.parse_input(payload))


# --- The hash -------------------------------------------------------------------------------------


def test_the_hash_is_sha256_of_the_payload_digest_followed_by_the_type() -> None:
    payload = {"id": 1, "durationSeconds": 0}
    by_hand = sha256_hex(sha256_hex('{"durationSeconds":0,"id":1}') + "TEST")
    assert job_hash("TEST", payload) == by_hand
    # Computed once with Node.js: the original's key for a TEST job with id 1 (defaults applied).
    assert by_hand == "c16f7f41651a5bb7dc12fe4ca99e7bac38e8e38caf1425ad63bc538be3a5b99b"


def test_a_nested_payload_hashes_as_its_sorted_compact_json() -> None:
    payload = {
        "region": "  Townsville-Whitsunday ",
        "reef_type": "slopes",
        "x_dist": 450,
        "y_dist": 20.0,
        "depth_min": -10.5,
        "extra": [{"b": "é 😀", "a": None}],
    }
    text = (
        '{"depth_min":-10.5,"extra":[{"a":null,"b":"é 😀"}],"reef_type":"slopes",'
        '"region":"Townsville-Whitsunday","x_dist":450,"y_dist":20}'
    )
    assert payload_hash(payload) == sha256_hex(text)
    assert job_hash("SUITABILITY_ASSESSMENT", payload) == sha256_hex(
        sha256_hex(text) + "SUITABILITY_ASSESSMENT"
    )


def test_the_same_payload_of_another_type_is_another_job() -> None:
    assert job_hash("TEST", {"id": 1}) != job_hash("DATA_SPECIFICATION_UPDATE", {"id": 1})


def test_key_order_does_not_matter_at_any_depth() -> None:
    one = {"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": 2}}
    other = {"a": {"x": 2, "y": [1, {"p": 2, "q": 1}]}, "b": 1}
    assert job_hash("TEST", one) == job_hash("TEST", other)


def test_array_order_matters() -> None:
    assert job_hash("TEST", {"a": [1, 2]}) != job_hash("TEST", {"a": [2, 1]})


def test_whitespace_in_strings_and_around_keys_does_not_matter() -> None:
    tidy = {"region": "Townsville Whitsunday", "reef_type": "slopes"}
    messy = {"region\t": "\n Townsville \t\u00a0 Whitsunday  ", "reef_type ": "slopes\u3000"}
    assert job_hash("REGIONAL_ASSESSMENT", messy) == job_hash("REGIONAL_ASSESSMENT", tidy)


def test_a_key_sorts_by_its_untrimmed_self_as_in_the_original() -> None:
    # The original sorts before it trims: " region" sorts first, so the text differs.
    assert stringify(normalize({" region": "a", "reef_type": "b"})) == '{"region":"a","reef_type":"b"}'
    assert stringify(normalize({"region": "a", "reef_type": "b"})) == '{"reef_type":"b","region":"a"}'


def test_case_and_inner_key_whitespace_still_matter() -> None:
    assert job_hash("TEST", {"r": "Reef"}) != job_hash("TEST", {"r": "reef"})
    assert job_hash("TEST", {"a b": 1}) != job_hash("TEST", {"a  b": 1})


def test_an_integral_float_hashes_as_the_integer() -> None:
    assert job_hash("TEST", {"x": 450.0, "y": -0.0}) == job_hash("TEST", {"x": 450, "y": 0})


def test_non_finite_numbers_hash_as_null() -> None:
    assert payload_hash({"a": math.nan, "b": math.inf, "c": -math.inf}) == payload_hash(
        {"a": None, "b": None, "c": None}
    )


# --- Defaults are applied before hashing --------------------------------------------------------


def test_a_default_given_or_left_out_is_the_same_job() -> None:
    assert parse_then_hash("TEST", {"id": 1}) == parse_then_hash("TEST", {"id": 1, "durationSeconds": 0})
    assert parse_then_hash("TEST", {"id": 1}) != parse_then_hash("TEST", {"id": 1, "durationSeconds": 1})


def test_the_default_rcp_scenario_given_or_left_out_is_the_same_job() -> None:
    adria = {"data_package": "GBR", "num_scenarios": 16, "model_params": []}
    assert parse_then_hash("ADRIA_MODEL_RUN", adria) == parse_then_hash(
        "ADRIA_MODEL_RUN", {**adria, "rcp_scenario": "45"}
    )
    assert parse_then_hash("ADRIA_MODEL_RUN", adria) != parse_then_hash(
        "ADRIA_MODEL_RUN", {**adria, "rcp_scenario": "26"}
    )


def test_an_absent_or_null_criterion_is_the_same_job() -> None:
    base = {"region": "Mackay-Capricorn", "reef_type": "flats"}
    assert parse_then_hash("REGIONAL_ASSESSMENT", base) == parse_then_hash(
        "REGIONAL_ASSESSMENT", {**base, "depth_max": None}
    )


# --- normalize ----------------------------------------------------------------------------------


def test_normalize_sorts_and_trims_keys_and_tidies_strings() -> None:
    assert normalize({"b ": " x  y ", " a": [" z ", 1.5, None, True]}) == {
        "a": ["z", 1.5, None, True],
        "b": "x y",
    }


def test_keys_that_trim_alike_keep_the_value_of_the_later_sorted_one() -> None:
    # " a" sorts before "a"; both become "a", and the second assignment wins.
    assert normalize({"a": 2, " a": 1}) == {"a": 2}


def test_keys_sort_by_utf16_code_units_as_javascript_does() -> None:
    # U+FFFF is after U+1F600 by code point but before its surrogates (U+D83D …) by code unit.
    assert stringify(normalize({"\uffff": 1, "😀": 2, "z": 3})) == '{"z":3,"😀":2,"\uffff":1}'


def test_only_javascript_whitespace_is_trimmed() -> None:
    # U+0085 and U+001C are whitespace to Python, not to JavaScript; U+FEFF is the reverse.
    assert normalize("\ufeff a\x85b\x1c ") == "a\x85b\x1c"
    assert normalize("a\u2028\u2029\u205fb") == "a b"


def test_only_json_values_can_be_hashed() -> None:
    with pytest.raises(TypeError, match="set"):
        normalize({"a": {1, 2}})
    with pytest.raises(TypeError, match="key of type int"):
        normalize({1: "a"})


# --- stringify: JSON.stringify's exact text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-450.0, "-450"),
        (0.1, "0.1"),
        (1 / 3, "0.3333333333333333"),
        (123.456, "123.456"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (2.0**60, "1152921504606847000"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (-1.5e-10, "-1.5e-10"),
        (5e-324, "5e-324"),
        (2**60, "1152921504606846976"),  # an int keeps every digit (JavaScript could not hold it)
        (math.nan, "null"),
    ],
)
def test_numbers_are_printed_as_javascript_prints_them(number: float, text: str) -> None:
    assert stringify(number) == text


def test_strings_are_escaped_as_javascript_escapes_them() -> None:
    raw = 'q" b\\ \b\f\n\r\t \x00\x1f\x7f é 😀 \u2028 \ud800 \ud83d\ude00'
    expected = '"q\\" b\\\\ \\b\\f\\n\\r\\t \\u0000\\u001f\x7f é 😀 \u2028 \\ud800 😀"'
    assert stringify(raw) == expected


def test_integer_like_keys_come_first_in_numeric_order() -> None:
    value: JsonValue = {"b": 1, "10": 2, "2": 3, "01": 4, "-1": 5, "4294967295": 6, "4294967294": 7}
    assert stringify(value) == '{"2":3,"10":2,"4294967294":7,"b":1,"01":4,"-1":5,"4294967295":6}'


def test_stringify_has_no_spaces() -> None:
    assert (
        stringify({"a": [1, {"b": None}], "c": True, "d": False}) == '{"a":[1,{"b":null}],"c":true,"d":false}'
    )


# --- Against JavaScript itself, where Node.js is installed ------------------------------------------

TRICKY_VALUES: list[Any] = [
    {"b": [1, 1.0, -0.0, 0.1, 1e21, 1e-7, 123e-20, 2.0**70, 5e-324], "a": "x"},
    {"10": 1, "9": 2, "01": 3, "x": 4, "4294967295": 5, " 7": 6, "é": 7, "😀": 8, "\uffff": 9},
    [
        '\u2028\u2029\x7f\x00\x1f"\\/',
        "\ud800 \udfff",
        "\ud83d\ude00",
        "\t\n\v\f\r \u00a0\u1680\u180e\ufeff\x85",
    ],
    {"  a ": " \u3000 spaced \t out \n", "a": 1, "nested": {"z": [], "y": {}}},
]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_stringify_and_whitespace_match_javascript() -> None:
    script = (
        "const v = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const tidy = s => s.trim().replace(/\\s+/g, ' ');"
        "process.stdout.write(JSON.stringify({"
        " texts: v.map(x => JSON.stringify(x)),"
        " tidied: v[2].map(tidy),"
        " keys: Object.keys(v[1]).sort() }));"
    )
    given = json.dumps(TRICKY_VALUES)  # ASCII with \u escapes, so lone surrogates survive the pipe
    completed = subprocess.run(
        ["node", "-e", script], input=given.encode(), capture_output=True, check=True, timeout=60
    )
    javascript = json.loads(completed.stdout.decode("utf-8"))
    values = json.loads(given)
    assert [stringify(value) for value in values] == javascript["texts"]
    assert [normalize(text) for text in values[2]] == javascript["tidied"]
    keys = normalize({key: 0 for key in values[1]})
    assert isinstance(keys, dict)
    assert list(keys) == [key.strip() for key in javascript["keys"]]
