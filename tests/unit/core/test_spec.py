import pytest
from pydantic import BaseModel, ConfigDict

from jobdesk.core.errors import InvalidInput, InvalidJobData, UnknownJobType
from jobdesk.core.prepare import prepare
from jobdesk.core.registry import Registry, job, registry


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: int
    y: int = 0


@job("unit.point", schema=Point, max_attempts=5, backoff_base=2)
def point(ctx, data):
    return None


@pytest.fixture
def reg() -> Registry:
    r = Registry()
    r.add(registry.get("unit.point"))
    return r


def test_prepare_fills_defaults_from_the_type(reg):
    new = prepare({"type": "unit.point", "data": {"x": 1}}, "u", "o", reg)
    assert new.queue == "unit.point"
    assert new.max_attempts == 5
    assert new.backoff_base_ms == 2000
    assert new.data == {"x": 1, "y": 0}
    assert new.name == "unit.point"


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        ({"type": "nope"}, UnknownJobType, "unknown job type 'nope'"),
        ({"type": "unit.point", "data": [1, 2]}, InvalidInput, "data must be a JSON object"),
        ({"type": "unit.point", "data": {"x": 1}, "maxAttempts": 0}, InvalidInput, "maxAttempts"),
        ({"type": "unit.point", "data": {"x": 1}, "priority": 5000}, InvalidInput, "priority"),
        ({"type": "unit.point", "data": {"x": "a"}}, InvalidJobData, "x:"),
        ({"type": "unit.point", "data": {"x": 1, "z": 2}}, InvalidJobData, "z:"),
        ({"type": "unit.point", "data": {"x": 1}, "status": "completed"}, InvalidInput, "status"),
        ({"type": "unit.point", "data": {"x": 1}, "userId": "x"}, InvalidInput, "userId"),
        ({"type": "unit.point", "runAt": "2026-01-01T00:00:00", "data": {"x": 1}}, InvalidInput, "time zone"),
        ("not a dict", InvalidInput, "JSON object"),
    ],
)
def test_bad_requests_name_the_problem(reg, spec, error, words):
    with pytest.raises(error) as exc:
        prepare(spec, "u", "o", reg)
    assert words in exc.value.message


def test_snake_case_is_accepted_too(reg):
    new = prepare({"type": "unit.point", "data": {"x": 1}, "max_attempts": 2}, "u", "o", reg)
    assert new.max_attempts == 2


def test_registry_rejects_bad_queue_names():
    with pytest.raises(ValueError):
        job("unit.badq", queue="has space")
