"""Raw inputs → checked options: what each model takes, and clear refusals for the rest."""

from __future__ import annotations

import pytest

from suxi.errors import InputError
from suxi.generation import (
    GenerationOptions,
    StartImage,
    check_max_tokens,
    check_model,
    check_prompt,
    is_task_id,
    options_from,
)
from suxi.kinds import Kind


def opts(**kw):
    return options_from(default_model="sora-2", **{"model": "", **kw})


def test_defaults_are_the_configured_model_and_auto():
    o = opts()
    assert o == GenerationOptions(model="sora-2")
    assert o.asked() == {}


def test_a_duration_the_model_takes_is_kept_and_others_are_refused():
    assert opts(duration="15").duration == 15
    assert opts(duration="10s").duration == 10
    with pytest.raises(InputError) as err:
        opts(duration="25")
    assert err.value.kind == Kind.BAD_OPTION
    assert err.value.values["allowed"] == "10, 15" and err.value.values["value"] == "25"
    assert opts(model="sora-2-pro", duration="25").duration == 25


def test_unknown_models_take_no_duration():
    assert opts(model="some-new-model", duration="auto").duration is None
    with pytest.raises(InputError):
        opts(model="some-new-model", duration="10")


@pytest.mark.parametrize("bad", ["sideways", "<script>", "x" * 5000])
def test_orientation_is_one_of_the_models(bad):
    with pytest.raises(InputError) as err:
        opts(orientation=bad)
    assert len(str(err.value.values["value"])) <= 40


def test_options_a_family_does_not_take_are_dropped():
    family_without_watermark = opts(model="veo3.1-fast", watermark=False, private=True)
    assert family_without_watermark.private is (family_without_watermark.family.private)


@pytest.mark.parametrize("value", ["", "   ", None, 5])
def test_empty_prompt(value):
    with pytest.raises(InputError) as err:
        check_prompt(value, 100)
    assert err.value.kind == Kind.EMPTY_PROMPT


def test_long_prompt_is_refused_not_cut():
    with pytest.raises(InputError) as err:
        check_prompt("a" * 5000, 4000)
    assert err.value.kind == Kind.PROMPT_TOO_LONG and err.value.values == {
        "length": 5000,
        "limit": 4000,
    }
    assert check_prompt("  ok \ud83d ", 10) == "ok \ufffd"  # a cut emoji is made valid


@pytest.mark.parametrize("value", [0, -1, 1.5, "x", float("nan"), float("inf"), 100_001, "1e999"])
def test_max_tokens_out_of_range(value):
    with pytest.raises(InputError) as err:
        check_max_tokens(value)
    assert err.value.kind == Kind.BAD_MAX_TOKENS


def test_max_tokens_ceiling_on_the_operators_key():
    assert check_max_tokens("4000", 4000) == 4000
    with pytest.raises(InputError) as err:
        check_max_tokens(4001, 4000)
    assert err.value.values["high"] == 4000


@pytest.mark.parametrize("name", ["sora 2", "x" * 101, "a/b\nc", "../../etc", "模型"])
def test_model_names_are_names(name):
    with pytest.raises(InputError):
        check_model(name, "sora-2")


def test_model_name_one_megabyte_is_refused():
    with pytest.raises(InputError) as err:
        check_model("m" * 1_000_000, "sora-2")
    assert err.value.kind == Kind.BAD_MODEL


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("sora-2:task_01k90abc", True),
        ("video_6048ab", True),
        ("a" * 200, True),
        ("a" * 201, False),
        ("../admin", False),
        ("id?x=1", False),
        ("id/../../", False),
        ("", False),
        (None, False),
        ("id%2F", False),
    ],
)
def test_task_ids_are_checked_before_they_go_into_a_path(value, ok):
    assert is_task_id(value) is ok


def test_start_image_file_part():
    image = StartImage(data_url="data:image/png;base64,iVBORw0K")
    name, data, mime = image.file_part()
    assert (name, mime) == ("start.png", "image/png") and data.startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        StartImage(link="https://example.com/a.jpg").file_part()


def test_options_round_trip_through_json():
    o = opts(model="sora-2-pro", duration="25", orientation="portrait", size="large")
    assert GenerationOptions.from_json(o.to_json(), "x") == o
    assert GenerationOptions.from_json({"unknown": 1}, "veo3").model == "veo3"
