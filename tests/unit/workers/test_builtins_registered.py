from __future__ import annotations

import pytest

from jobdesk.core.errors import InvalidJobData
from jobdesk.core.registry import BUILTIN_MODULES, registry

TYPES = [m.rsplit(".", 1)[1].replace("_", "-") for m in BUILTIN_MODULES]


def test_every_builtin_module_registers_its_type_with_a_schema() -> None:
    assert TYPES == [
        "data-conversion",
        "document-processing",
        "model-training",
        "fine-tuning",
        "workflow-execution",
        "bulk-operation",
    ]
    for job_type in TYPES:
        definition = registry.get(job_type)
        assert definition.schema is not None, job_type
        assert definition.queue == job_type and definition.description


@pytest.mark.parametrize("job_type", TYPES)
def test_unknown_fields_are_refused_by_name(job_type: str) -> None:
    # bulk-operation first needs `operation` to know which fields it takes.
    data = {"operation": "retry", "filter": {"type": "x"}} if job_type == "bulk-operation" else {}
    with pytest.raises(InvalidJobData, match="surprise: Extra inputs are not permitted"):
        registry.get(job_type).validate_data({**data, "surprise": 1})
