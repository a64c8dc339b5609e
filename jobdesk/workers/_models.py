"""The model behind model-training and fine-tuning.

A scikit-learn preprocessor (impute and scale numbers, one-hot categories)
feeds an SGD linear model, trained with `partial_fit` one mini-batch at a
time: that gives real epochs to report, a cancellation check between
batches, and warm starts for fine-tuning, which continues from the saved
weights. Regression targets are standardised for training (SGD diverges on
raw prices or salaries) and reported in their own units.

Artifacts are joblib (pickle) files: loading one runs code it contains, so
a job only loads artifacts from the data directory, which is trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from jobdesk.core.context import JobContext
from jobdesk.workers._common import atomic_path
from jobdesk.workers._tabular import Table

Task = Literal["classification", "regression"]
ARTIFACT_FORMAT = "jobdesk-tabular-model"
ARTIFACT_VERSION = 1
MIN_ROWS = 10


def infer_task(labels: np.ndarray) -> Task:
    """Classification for words or a few whole numbers (0/1, ratings), else regression."""
    try:
        values = labels.astype(float)
    except ValueError:
        return "classification"
    distinct = np.unique(values)
    if len(distinct) <= 10 and bool(np.all(distinct == np.round(distinct))):
        return "classification"
    return "regression"


@dataclass
class TabularModel:
    task: Task
    target: str
    features: list[str]
    numeric: list[str]
    preprocessor: ColumnTransformer
    estimator: SGDClassifier | SGDRegressor
    classes: list[str]
    y_mean: float = 0.0
    y_scale: float = 1.0

    @classmethod
    def create(cls, table: Table, target: str, task: Task, *, alpha: float, seed: int,
               learning_rate: float | None) -> TabularModel:
        numeric = [i for i, name in enumerate(table.features) if name in table.numeric]
        categorical = [i for i, name in enumerate(table.features) if name not in table.numeric]
        preprocessor = ColumnTransformer(
            [
                ("numbers", make_pipeline(
                    FunctionTransformer(_as_float),
                    SimpleImputer(strategy="mean", keep_empty_features=True),
                    StandardScaler(),
                ), numeric),
                ("categories", OneHotEncoder(handle_unknown="ignore", max_categories=50),
                 categorical),
            ],
            sparse_threshold=0.0,
        )
        schedule: dict[str, Any] = (
            {"learning_rate": "constant", "eta0": learning_rate} if learning_rate else {}
        )
        estimator: SGDClassifier | SGDRegressor
        if task == "classification":
            estimator = SGDClassifier(loss="log_loss", alpha=alpha, random_state=seed, **schedule)
        else:
            estimator = SGDRegressor(alpha=alpha, random_state=seed, **schedule)
        classes = sorted(set(table.y.tolist())) if task == "classification" else []
        return cls(task, target, table.features, table.numeric, preprocessor, estimator, classes)

    # -- data ---------------------------------------------------------------------

    def encode_target(self, labels: np.ndarray) -> np.ndarray:
        if self.task == "classification":
            return labels.astype(str)
        return (_target_floats(labels) - self.y_mean) / self.y_scale

    def fit_target_scale(self, labels: np.ndarray) -> None:
        if self.task == "regression":
            values = _target_floats(labels)
            self.y_mean = float(values.mean())
            self.y_scale = float(values.std()) or 1.0

    def transform(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.preprocessor.transform(x), dtype=np.float64)

    # -- learning and judging ---------------------------------------------------------

    def partial_fit(self, xt: np.ndarray, yt: np.ndarray) -> None:
        if isinstance(self.estimator, SGDClassifier):
            self.estimator.partial_fit(xt, yt, classes=np.array(self.classes))
        else:
            self.estimator.partial_fit(xt, yt)

    def train_loss(self, xt: np.ndarray, yt: np.ndarray) -> float:
        """Log loss for classification; RMSE in the target's units for regression."""
        if isinstance(self.estimator, SGDClassifier):
            return float(log_loss(yt, self.estimator.predict_proba(xt), labels=self.classes))
        predicted = self.estimator.predict(xt)
        return float(math.sqrt(mean_squared_error(yt, predicted))) * self.y_scale

    def evaluate(self, xt: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        if isinstance(self.estimator, SGDClassifier):
            truth = labels.astype(str)
            predicted = self.estimator.predict(xt)
            metrics = {
                "accuracy": accuracy_score(truth, predicted),
                "f1Macro": f1_score(truth, predicted, average="macro", zero_division=0),
                "logLoss": log_loss(truth, self.estimator.predict_proba(xt), labels=self.classes),
            }
        else:
            truth_f = _target_floats(labels)
            predicted_f = self.estimator.predict(xt) * self.y_scale + self.y_mean
            metrics = {
                "r2": r2_score(truth_f, predicted_f),
                "mae": mean_absolute_error(truth_f, predicted_f),
                "rmse": math.sqrt(mean_squared_error(truth_f, predicted_f)),
            }
        return {k: round(float(v), 6) for k, v in metrics.items()}

    @property
    def primary_metric(self) -> str:
        return "accuracy" if self.task == "classification" else "r2"

    def describe(self, metrics: dict[str, float]) -> str:
        if self.task == "classification":
            return f"val accuracy {metrics['accuracy']:.3f}"
        return f"val R² {metrics['r2']:.3f}, val RMSE {metrics['rmse']:.4g}"

    # -- artifact -------------------------------------------------------------------

    def save(self, path: Path, **extra: Any) -> None:
        artifact = {"format": ARTIFACT_FORMAT, "version": ARTIFACT_VERSION,
                    "model": self.__dict__, **extra}
        with atomic_path(path) as tmp:
            joblib.dump(artifact, tmp)

    @classmethod
    def load(cls, path: Path) -> tuple[TabularModel, dict[str, Any]]:
        try:
            artifact = joblib.load(path)
        except Exception as exc:
            raise ValueError(f"{path.name} is not a readable model artifact ({exc})") from None
        if not isinstance(artifact, dict) or artifact.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"{path.name} is not a model saved by model-training")
        if artifact.get("version") != ARTIFACT_VERSION:
            raise ValueError(f"{path.name}: artifact version {artifact.get('version')} "
                             f"is not supported (expected {ARTIFACT_VERSION})")
        return cls(**artifact["model"]), artifact


def split(table: Table, task: Task, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out row indices; stratified when every class has two rows or more."""
    rows = len(table.y)
    if rows < MIN_ROWS:
        raise ValueError(f"{rows} usable rows; at least {MIN_ROWS} are needed")
    stratify = None
    if task == "classification":
        _, counts = np.unique(table.y.astype(str), return_counts=True)
        test_rows = math.ceil(rows * test_size)
        if counts.min() >= 2 and test_rows >= len(counts):
            stratify = table.y.astype(str)
    train, test = train_test_split(
        np.arange(rows), test_size=test_size, random_state=seed, stratify=stratify
    )
    return np.asarray(train), np.asarray(test)


def run_epochs(
    ctx: JobContext,
    model: TabularModel,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
) -> list[dict[str, float]]:
    """Mini-batch SGD for `epochs` passes; progress per epoch names the loss and the metric.

    `train` is (transformed features, encoded target); `test` is
    (transformed features, raw labels). Cancellation is checked per batch.
    """
    xt, yt = train
    rng = np.random.default_rng(seed)
    history: list[dict[str, float]] = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(yt))
        for start in range(0, len(order), batch_size):
            ctx.check_cancelled()
            batch = order[start : start + batch_size]
            model.partial_fit(xt[batch], yt[batch])
        loss = model.train_loss(xt, yt)
        if not math.isfinite(loss) or not np.all(np.isfinite(model.estimator.coef_)):
            raise ValueError(f"training diverged at epoch {epoch}; set a smaller learningRate")
        metrics = model.evaluate(*test)
        history.append({"epoch": epoch, "loss": round(loss, 6), **metrics})
        ctx.progress(epoch, epochs, f"Epoch {epoch}/{epochs}: loss {loss:.4f}, "
                                    f"{model.describe(metrics)}")
    return history


def _as_float(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _target_floats(labels: np.ndarray) -> np.ndarray:
    try:
        return labels.astype(np.float64)
    except ValueError:
        raise ValueError("a regression target must hold numbers only") from None
