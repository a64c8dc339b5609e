"""fine-tuning: continue training a saved model on new data (a warm start).

The saved preprocessor is kept as it was: refitting it would move the
feature space under the learned weights. The new rows are split; the held-out
part scores the model before and after the extra epochs, so the result
compares like with like.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from pydantic import Field

from jobdesk.core.context import JobContext
from jobdesk.core.registry import job
from jobdesk.workers._common import DataPath, relative_to_data_dir
from jobdesk.workers.model_training import TrainingOptions


class FineTuningData(TrainingOptions):
    model_path: DataPath = Field(description="an artifact saved by model-training")
    input_path: DataPath = Field(description="new rows: a CSV with the model's columns")
    output_path: DataPath | None = Field(
        default=None, description="default: <model name>-tuned.joblib beside the model"
    )
    epochs: int = Field(default=5, ge=1, le=1000)


@job("fine-tuning", schema=FineTuningData)
def fine_tune(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Warm-start a saved model on new data; compare its metrics before and after."""
    # Imported here, as in model-training: scikit-learn is slow to import.
    from jobdesk.workers._models import TabularModel, run_epochs, split
    from jobdesk.workers._tabular import read_table

    spec = FineTuningData.model_validate(data)
    base_path = ctx.resolve_path(spec.model_path)
    source = ctx.resolve_path(spec.input_path)
    default_out = PurePosixPath(spec.model_path)
    target = ctx.resolve_path(
        spec.output_path or str(default_out.with_name(f"{default_out.stem}-tuned.joblib"))
    )
    for given, path in ((spec.model_path, base_path), (spec.input_path, source)):
        if not path.is_file():
            raise FileNotFoundError(f"{given!r} not found in the data directory")

    ctx.progress(0, spec.epochs, f"Loading {spec.model_path}")
    model, artifact = TabularModel.load(base_path)
    table = read_table(
        source,
        model.target,
        model.features,
        delimiter=spec.delimiter,
        encoding=spec.encoding,
        numeric=model.numeric,
    )
    if model.task == "classification":
        unknown = sorted(set(table.y.astype(str).tolist()) - set(model.classes))
        if unknown:
            raise ValueError(
                f"labels {', '.join(unknown)} are new; the model knows {', '.join(model.classes)} "
                "(a linear model cannot add classes by fine-tuning: train a new one)"
            )
    train, test = split(table, model.task, spec.test_size, spec.random_seed)
    held_out = (model.transform(table.x[test]), table.y[test])
    before = model.evaluate(*held_out)
    ctx.progress(0, spec.epochs, f"Before fine-tuning: {model.describe(before)}")
    if spec.learning_rate:
        model.estimator.set_params(learning_rate="constant", eta0=spec.learning_rate)
    history = run_epochs(
        ctx,
        model,
        (model.transform(table.x[train]), model.encode_target(table.y[train])),
        held_out,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=spec.random_seed,
    )
    after = {k: v for k, v in history[-1].items() if k not in ("epoch", "loss")}
    model.save(
        target,
        metrics=after,
        trainedOn=artifact.get("trainedOn"),
        fineTunedOn=spec.input_path,
        trainedAt=datetime.now(UTC).isoformat(),
        baseModel=spec.model_path,
        rows=len(table.y),
    )
    primary = model.primary_metric
    return {
        "modelPath": relative_to_data_dir(ctx, target),
        "baseModelPath": relative_to_data_dir(ctx, base_path),
        "task": model.task,
        "rows": {"train": len(train), "test": len(test), "skipped": table.skipped_rows},
        "epochs": spec.epochs,
        "before": before,
        "after": after,
        "change": {k: round(after[k] - before[k], 6) for k in before},
        "primaryMetric": primary,
        # logLoss, mae and rmse improve downwards; accuracy, f1 and r2 upwards.
        "improved": bool(np.greater(after[primary], before[primary])),
        "history": history,
    }
