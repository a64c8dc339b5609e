from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import joblib
import pytest

from jobdesk.core.errors import InvalidJobData, JobCancelled
from jobdesk.core.registry import registry
from jobdesk.workers.testing import run_inline
from tests.unit.workers.tables import write_churn


def train(make_ctx: Any, **data: Any) -> tuple[dict[str, Any], Any]:
    ctx = make_ctx()
    return run_inline(ctx, "model-training", data), ctx


def test_classification_reports_each_epoch_and_saves(make_ctx: Any, data_dir: Path) -> None:
    write_churn(data_dir / "churn.csv", 600, seed=1)
    result, ctx = train(
        make_ctx,
        inputPath="churn.csv",
        target="churn",
        features=["tenure", "monthly", "calls", "plan"],
        epochs=8,
        modelPath="models/churn.joblib",
    )
    assert result["task"] == "classification" and result["classes"] == ["no", "yes"]
    assert result["rows"] == {"train": 480, "test": 120, "skipped": 0}
    assert result["numericFeatures"] == ["tenure", "monthly", "calls"]
    assert result["metrics"]["accuracy"] > 0.7
    assert len(result["history"]) == 8 and result["modelPath"] == "models/churn.joblib"
    epochs = [u for u in ctx.updates if u[2] and u[2].startswith("Epoch")]
    assert [(c, t) for c, t, _ in epochs] == [(i, 8) for i in range(1, 9)]
    assert re.fullmatch(r"Epoch 8/8: loss \d\.\d{4}, val accuracy \d\.\d{3}", epochs[-1][2])
    artifact = joblib.load(data_dir / "models/churn.joblib")
    assert artifact["format"] == "jobdesk-tabular-model" and artifact["metrics"] == result["metrics"]


def test_regression_is_inferred_for_a_continuous_target(make_ctx: Any, data_dir: Path) -> None:
    write_churn(data_dir / "churn.csv", 800, seed=2)
    result, ctx = train(
        make_ctx,
        inputPath="churn.csv",
        target="spend",
        features=["tenure", "monthly", "plan"],
        epochs=15,
        learningRate=0.01,
    )
    assert result["task"] == "regression"
    assert result["metrics"]["r2"] > 0.7
    assert set(result["metrics"]) == {"r2", "mae", "rmse", "trainLoss"}
    assert "val R²" in (ctx.updates[-1][2] or "")
    assert (data_dir / result["modelPath"]).is_file()
    assert result["modelPath"].startswith("models/churn-")


def test_cancel_stops_training_and_saves_nothing(make_ctx: Any, data_dir: Path) -> None:
    write_churn(data_dir / "churn.csv", 400, seed=3)
    ctx = make_ctx(cancel_after=3)
    with pytest.raises(JobCancelled):
        run_inline(
            ctx,
            "model-training",
            {"inputPath": "churn.csv", "target": "churn", "epochs": 50, "modelPath": "m.joblib"},
        )
    assert len(ctx.updates) == 3 and not (data_dir / "m.joblib").exists()


def test_bad_inputs_are_named(make_ctx: Any, data_dir: Path) -> None:
    write_churn(data_dir / "churn.csv", 50, seed=4)
    with pytest.raises(ValueError, match=r"column\(s\) nope not in the file"):
        train(make_ctx, inputPath="churn.csv", target="nope")
    (data_dir / "good.csv").write_text("x,y\n1,a\n2,b\n" + "3,a\n" * 10 + "4,b\n")
    (data_dir / "bad.csv").write_text("x,y\n1,a\n2,b\n" + "3,a\n" * 10 + "four,b\n")
    result, _ = train(make_ctx, inputPath="bad.csv", target="y", epochs=1)
    assert result["numericFeatures"] == []  # a word makes the column a category
    train(make_ctx, inputPath="good.csv", target="y", epochs=1, modelPath="m.joblib")
    # A saved model fixes which columns are numbers; new data must agree.
    with pytest.raises(ValueError, match="line 14: column 'x' holds numbers, not 'four'"):
        run_inline(make_ctx(), "fine-tuning", {"modelPath": "m.joblib", "inputPath": "bad.csv"})


def test_schema_checks_at_creation() -> None:
    definition = registry.get("model-training")
    with pytest.raises(InvalidJobData, match=r"testSize: Input should be less than or equal to 0\.5"):
        definition.validate_data({"inputPath": "a.csv", "target": "y", "testSize": 0.9})
    with pytest.raises(InvalidJobData, match="target: Field required"):
        definition.validate_data({"inputPath": "a.csv"})
    with pytest.raises(InvalidJobData, match="modelPath: Value error, may not contain"):
        definition.validate_data({"inputPath": "a.csv", "target": "y", "modelPath": "../m"})
