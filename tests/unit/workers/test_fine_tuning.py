from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import pytest

from jobdesk.core.errors import InvalidJobData, JobCancelled
from jobdesk.core.registry import registry
from jobdesk.workers.testing import run_inline
from tests.unit.workers.tables import write_churn


def train(make_ctx: Any, **data: Any) -> dict[str, Any]:
    return run_inline(make_ctx(), "model-training", data)


def test_fine_tuning_compares_before_and_after(make_ctx: Any, data_dir: Path) -> None:
    write_churn(data_dir / "old.csv", 500, seed=5)
    write_churn(data_dir / "new.csv", 800, seed=6, drift=1.5)
    train(make_ctx, inputPath="old.csv", target="churn", epochs=10, modelPath="models/base.joblib")
    ctx = make_ctx()
    result = run_inline(
        ctx,
        "fine-tuning",
        {
            "modelPath": "models/base.joblib",
            "inputPath": "new.csv",
            "epochs": 10,
        },
    )
    assert result["modelPath"] == "models/base-tuned.joblib"
    assert result["baseModelPath"] == "models/base.joblib"
    assert set(result["before"]) == {"accuracy", "f1Macro", "logLoss"} == set(result["after"])
    assert result["improved"] and result["after"]["accuracy"] > result["before"]["accuracy"]
    assert result["change"]["accuracy"] == pytest.approx(
        result["after"]["accuracy"] - result["before"]["accuracy"], abs=1e-6
    )
    assert any((m or "").startswith("Before fine-tuning: val accuracy") for _, _, m in ctx.updates)
    tuned = joblib.load(data_dir / "models/base-tuned.joblib")
    assert tuned["baseModel"] == "models/base.joblib"


def test_fine_tuning_refuses_new_labels_and_foreign_files(make_ctx: Any, data_dir: Path) -> None:
    write_churn(data_dir / "old.csv", 200, seed=7)
    train(make_ctx, inputPath="old.csv", target="churn", epochs=2, modelPath="m.joblib")
    text = (data_dir / "old.csv").read_text().replace(",yes,", ",maybe,")
    (data_dir / "odd.csv").write_text(text)
    with pytest.raises(ValueError, match="labels maybe are new"):
        run_inline(make_ctx(), "fine-tuning", {"modelPath": "m.joblib", "inputPath": "odd.csv"})
    joblib.dump({"some": "thing"}, data_dir / "other.joblib")
    with pytest.raises(ValueError, match="not a model saved by model-training"):
        run_inline(make_ctx(), "fine-tuning", {"modelPath": "other.joblib", "inputPath": "old.csv"})


def test_fine_tuning_cancel_keeps_the_base_model(make_ctx: Any, data_dir: Path) -> None:
    write_churn(data_dir / "old.csv", 300, seed=8)
    train(make_ctx, inputPath="old.csv", target="churn", epochs=2, modelPath="m.joblib")
    before = (data_dir / "m.joblib").read_bytes()
    ctx = make_ctx(cancel_after=4)
    with pytest.raises(JobCancelled):
        run_inline(
            ctx,
            "fine-tuning",
            {"modelPath": "m.joblib", "inputPath": "old.csv", "epochs": 20, "outputPath": "m.joblib"},
        )
    assert (data_dir / "m.joblib").read_bytes() == before


def test_schema_checks_at_creation() -> None:
    definition = registry.get("fine-tuning")
    with pytest.raises(InvalidJobData, match="modelPath: Field required"):
        definition.validate_data({"inputPath": "new.csv"})
    with pytest.raises(InvalidJobData, match="target: Extra inputs are not permitted"):
        definition.validate_data({"inputPath": "new.csv", "modelPath": "m.joblib", "target": "y"})
    assert definition.validate_data({"inputPath": "n.csv", "modelPath": "m.joblib"})["epochs"] == 5
