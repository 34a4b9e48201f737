"""scikit-learn pipelines for the model families the AutoML search explores.

`linear`: imputation, scaling and one-hot encoding in front of ridge
regression or logistic regression. `hgb`: ordinal-encoded categoricals fed
natively to histogram gradient boosting (missing values handled by the
trees). Every step is a stock scikit-learn class, so skops persists it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mlcycle.core import Task

Family = Literal["linear", "hgb"]


def _linear_preprocess(numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    onehot = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=50)
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                list(numeric),
            ),
            (
                "cat",
                make_pipeline(SimpleImputer(strategy="most_frequent"), onehot),
                list(categorical),
            ),
        ]
    )


def _hgb_preprocess(numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    ordinal = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=250,
    )
    return ColumnTransformer(
        [("cat", ordinal, list(categorical)), ("num", "passthrough", list(numeric))],
        verbose_feature_names_out=False,
    )


def build_estimator(
    family: Family,
    task: Task,
    params: Mapping[str, Any],
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int = 0,
) -> Any:
    """Return an unfitted scikit-learn pipeline for `family` and `task`.

    Args:
        family: `linear` or `hgb`.
        task: `regression` or `classification`.
        params: hyperparameters: `alpha` (ridge) or `C` (logistic) for
            linear; `learning_rate`, `max_leaf_nodes`, `min_samples_leaf`,
            `l2_regularization`, `max_iter` for hgb.
        numeric, categorical: the feature columns by role.
        seed: random state of stochastic estimators.
    """
    from sklearn.pipeline import Pipeline

    if family == "linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        model: Any = (
            Ridge(alpha=params.get("alpha", 1.0))
            if task == "regression"
            else LogisticRegression(C=params.get("C", 1.0), max_iter=1000)
        )
        return Pipeline([("pre", _linear_preprocess(numeric, categorical)), ("model", model)])
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    cat_mask = [True] * len(categorical) + [False] * len(numeric)
    hgb = cls(categorical_features=cat_mask or None, random_state=seed, **params)
    return Pipeline([("pre", _hgb_preprocess(numeric, categorical)), ("model", hgb)])


def suggest_params(trial: Any, family: Family, task: Task) -> dict[str, Any]:
    """Sample hyperparameters of `family` from an Optuna trial (log-uniform where scale-free)."""
    if family == "linear":
        key = "alpha" if task == "regression" else "C"
        return {key: trial.suggest_float(key, 1e-3, 1e2, log=True)}
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 64, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 1.0, log=True),
        "max_iter": trial.suggest_int("max_iter", 100, 400, step=100),
    }
