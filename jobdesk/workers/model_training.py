"""model-training: train a linear model on a CSV with a named target column.

Classification (logistic regression) or regression (linear least squares),
both by stochastic gradient descent so that every epoch is reported with its
loss and held-out metric, and a cancel stops training between mini-batches.
See _models for the preprocessing and the artifact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from jobdesk.core.context import JobContext
from jobdesk.core.registry import job
from jobdesk.workers._common import DataPath, Encoding, Schema, relative_to_data_dir


class TrainingOptions(Schema):
    """What model-training and fine-tuning share."""

    epochs: int = Field(default=20, ge=1, le=1000)
    batch_size: int = Field(default=256, ge=1, le=100_000)
    test_size: float = Field(default=0.2, ge=0.05, le=0.5, description="held-out share of rows")
    random_seed: int = Field(default=0, ge=0)
    learning_rate: float | None = Field(
        default=None, gt=0, le=10, description="constant step size; default: scikit-learn's schedule"
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: Encoding = "utf-8"


class ModelTrainingData(TrainingOptions):
    input_path: DataPath
    target: str = Field(min_length=1)
    features: list[str] | None = Field(
        default=None, min_length=1, description="default: every column but the target"
    )
    task: Literal["auto", "classification", "regression"] = "auto"
    alpha: float = Field(default=0.0001, ge=0, le=10, description="L2 regularisation")
    model_path: DataPath | None = Field(
        default=None, description="default: models/<input name>-<job id>.joblib"
    )


@job("model-training", schema=ModelTrainingData)
def train_model(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Train a model on a CSV; report each epoch; save the artifact under the data directory."""
    # scikit-learn takes seconds to import: only the process that trains pays
    # for it, not every server and CLI that merely registers the job types.
    from jobdesk.workers._models import TabularModel, infer_task, run_epochs, split
    from jobdesk.workers._tabular import read_table

    spec = ModelTrainingData.model_validate(data)
    source = ctx.resolve_path(spec.input_path)
    default_name = f"models/{source.stem}-{ctx.job_id[:8]}.joblib"
    target = ctx.resolve_path(spec.model_path or default_name)
    if not source.is_file():
        raise FileNotFoundError(f"input file {spec.input_path!r} not found in the data directory")

    ctx.progress(0, spec.epochs, f"Reading {spec.input_path}")
    table = read_table(source, spec.target, spec.features, delimiter=spec.delimiter, encoding=spec.encoding)
    task = infer_task(table.y) if spec.task == "auto" else spec.task
    train, test = split(table, task, spec.test_size, spec.random_seed)
    model = TabularModel.create(
        table, spec.target, task, alpha=spec.alpha, seed=spec.random_seed, learning_rate=spec.learning_rate
    )
    # Preprocessing and target scale are fitted on the training rows only, so
    # the held-out metric is not flattered by statistics of the rows it judges.
    model.preprocessor.fit(table.x[train])
    model.fit_target_scale(table.y[train])
    history = run_epochs(
        ctx,
        model,
        (model.transform(table.x[train]), model.encode_target(table.y[train])),
        (model.transform(table.x[test]), table.y[test]),
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=spec.random_seed,
    )
    # Held-out metrics of the last epoch, and the loss on the training rows.
    metrics = {k: v for k, v in history[-1].items() if k not in ("epoch", "loss")}
    metrics["trainLoss"] = history[-1]["loss"]
    model.save(
        target,
        metrics=metrics,
        trainedOn=spec.input_path,
        trainedAt=datetime.now(UTC).isoformat(),
        rows=len(table.y),
    )
    return {
        "modelPath": relative_to_data_dir(ctx, target),
        "task": task,
        "target": spec.target,
        "features": table.features,
        "numericFeatures": table.numeric,
        "classes": model.classes,
        "rows": {"train": len(train), "test": len(test), "skipped": table.skipped_rows},
        "epochs": spec.epochs,
        "metrics": metrics,
        "history": history,
    }
