"""The paths workers may name for their files, and the prefixes users filter by."""

from __future__ import annotations

import pytest

from reefguide.errors import BadRequest
from reefguide.storage import TooManyFiles, check_relative_path
from reefguide.storage.base import check_prefix, media_type


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("a.txt", "a.txt"),
        ("out/charts/coral cover.json", "out/charts/coral cover.json"),
        ("./a.txt", "a.txt"),
        ("out/./a.txt", "out/a.txt"),
        ("..a/b..", "..a/b.."),
        ("ünïcode/名前.tif", "ünïcode/名前.tif"),
        ("x" * 200 + "/" + "y" * 200, "x" * 200 + "/" + "y" * 200),
    ],
)
def test_a_relative_path_is_accepted_in_its_normal_form(path: str, normal: str) -> None:
    assert check_relative_path(path) == normal


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        (".", "empty"),
        ("/etc/passwd", "relative"),
        ("../a.txt", "'..'"),
        ("out/../../a.txt", "'..'"),
        ("out/..", "'..'"),
        ("out\\a.txt", "backslash"),
        ("..\\a.txt", "backslash"),
        ("out//a.txt", "empty segment"),
        ("out/", "empty segment"),
        ("a\x00.txt", "control character"),
        ("a\n.txt", "control character"),
        ("a" * 1025, "1024 characters"),
        ("é" * 128 + "/a", "255 bytes"),
    ],
)
def test_a_path_that_could_leave_its_folder_is_refused(path: str, reason: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check_relative_path(path)
    assert reason in caught.value.message
    assert caught.value.status_code == 400


def test_a_path_of_exactly_1024_characters_is_accepted() -> None:
    path = "/".join(["a" * 254] * 4) + "/bbbb"
    assert len(path) == 1024
    assert check_relative_path(path) == path


@pytest.mark.parametrize(
    ("prefix", "checked"),
    [(None, ""), ("", ""), ("out", "out"), ("out/", "out/"), ("./out/a", "out/a")],
)
def test_a_prefix_may_end_with_a_slash(prefix: str | None, checked: str) -> None:
    assert check_prefix(prefix) == checked


@pytest.mark.parametrize("prefix", ["../", "/out", "out//", "a\\b"])
def test_a_prefix_follows_the_path_rules(prefix: str) -> None:
    with pytest.raises(BadRequest):
        check_prefix(prefix)


def test_too_many_files_says_how_many_and_the_limit() -> None:
    error = TooManyFiles(30, 25)
    assert error.status_code == 400
    assert error.count == 30
    assert "30 files" in error.message
    assert "limit of 25" in error.message


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("out/suitable.geojson", "application/geo+json"),
        ("regional_assessment.tiff", "image/tiff"),
        ("chart.JSON", "application/json"),
        ("notes.txt", "text/plain"),
        ("results.unknown-extension", "application/octet-stream"),
        ("folder.d/no-extension", "application/octet-stream"),
    ],
)
def test_downloads_are_typed_by_extension(path: str, expected: str) -> None:
    assert media_type(path) == expected
