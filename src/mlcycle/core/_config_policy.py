"""The loop's policy (`loop.policy` in `mlcycle.yaml`): when to check, what to watch, how to act.

Example (the policy of the design notes)::

    loop:
      policy:
        schedule: "0 6 * * *"          # cron: every day at 06:00
        window: {size: "7D", label_delay: "2D"}
        monitors: {drift_share: 0.3, metric_factor: 1.2, consecutive: 2}
        retrain: {last_weeks: 8}
        gate: {margin: 0.02}
        rollback: {worse_by: 0.0}

Unknown keys are errors naming the key path and the closest valid key
(:func:`suggest_key`), so `monitors.drift_shar` never silently means
"no drift monitor".
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowPolicy(_Policy):
    """How the inference log is cut into windows.

    `size` is a pandas frequency (`7D`, `W`, `MS` = calendar months);
    windows follow the data's time column when the logged inputs carry it
    (`data.time_column`), else the time of logging. A window is checked
    once it has ended and either `min_label_coverage` of its rows have
    labels or `label_delay` (a pandas duration, e.g. `2D`) has passed.
    """

    size: str = "7D"
    label_delay: str = "0D"

    @field_validator("size")
    @classmethod
    def _frequency(cls, value: str) -> str:
        import pandas as pd

        try:
            pd.tseries.frequencies.to_offset(value)
        except ValueError:
            raise ValueError(f"not a pandas frequency such as '7D' or 'MS': {value!r}") from None
        return value

    @field_validator("label_delay")
    @classmethod
    def _duration(cls, value: str) -> str:
        import pandas as pd

        try:
            pd.Timedelta(value)
        except ValueError:
            raise ValueError(f"not a duration such as '2D' or '12h': {value!r}") from None
        return value


class MonitorPolicy(_Policy):
    """When a window is bad, and how many bad windows in a row trigger a retrain.

    A window breaches when its drift share exceeds `drift_share`, or when
    the live primary metric (MAE, log-loss; lower is better) exceeds
    `metric_factor` times the production model's training metric. Windows
    with fewer than `min_rows` rows, or labeled rows, give "not enough data".
    """

    drift_share: float | None = Field(0.3, ge=0.0, le=1.0)
    metric_factor: float | None = Field(1.2, ge=1.0)
    consecutive: int = Field(2, ge=1)
    min_rows: int = Field(30, ge=1)
    min_label_coverage: float = Field(0.5, gt=0.0, le=1.0)


class RetrainPolicy(_Policy):
    """The built-in retraining: the production model's family and parameters, refit
    on the labeled rows of the inference log of the last `last_weeks` weeks
    before the checked window (all of them when unset)."""

    last_weeks: int | None = Field(None, ge=1)


class GatePolicy(_Policy):
    """Promote the candidate when it beats production on the checked window by `margin`."""

    margin: float = Field(0.02, ge=0.0, lt=1.0)


class RollbackPolicy(_Policy):
    """Roll a newly promoted model back when, on the next labeled window, its metric
    is worse than the previous version's on the same rows by more than `worse_by`
    (relative: 0.05 = 5 %)."""

    enabled: bool = True
    worse_by: float = Field(0.0, ge=0.0)


class PolicyConfig(_Policy):
    """The whole policy of the loop controller (`mlcycle loop run`).

    `model`: the registered model it watches (default: `model_name`);
    `schedule`: a cron expression (minute hour day month weekday) for
    checks, besides checks on new labels; `lease_seconds`: how long a
    controller's claim on the model lasts without renewal.
    """

    model: str | None = None
    schedule: str = "0 * * * *"
    window: WindowPolicy = WindowPolicy()
    monitors: MonitorPolicy = MonitorPolicy()
    retrain: RetrainPolicy = RetrainPolicy()
    gate: GatePolicy = GatePolicy()
    rollback: RollbackPolicy = RollbackPolicy()
    lease_seconds: float = Field(300.0, gt=0.0)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # type: ignore[import-untyped]

        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression such as '0 6 * * *': {value!r}")
        return value


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        models = [m for a in typing.get_args(annotation) if (m := _model_of(a)) is not None]
        return models[0] if models else None
    return None


def suggest_key(root: type[BaseModel], loc: Sequence[int | str]) -> str | None:
    """The valid key closest to the unknown last key of `loc`, if one is close.

    Args:
        root: the model validated (e.g. `Config`).
        loc: the key path of an "extra inputs are not permitted" error.
    """
    model: type[BaseModel] | None = root
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if model is not None else None
        model = _model_of(field.annotation) if field is not None else None
    if model is None:
        return None
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
    return close[0] if close else None
