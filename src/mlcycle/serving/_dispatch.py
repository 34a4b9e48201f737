"""Choosing which deployed model version answers a request.

Every inference route (REST v2, `/predict`, gRPC) goes through
:func:`dispatch`, so canary, shadow and A/B routing live here and
nowhere else.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlcycle.core import ModelNotFound
from mlcycle.serving._holder import ModelHolder, Served
from mlcycle.serving._predict import Prediction


def served_model(holder: ModelHolder, name: str) -> Served:
    """The model served under `name`.

    Raises:
        ModelNotFound: if this server does not serve `name`.
    """
    served = holder.current
    if name != served.name:
        raise ModelNotFound(
            f"Model '{name}' is not served here (this server serves '{served.name}')"
        )
    return served


async def dispatch(
    state: Any, name: str, frame: pd.DataFrame, request_id: str, key: str | None = None
) -> tuple[Served, Prediction]:
    """Predict `frame` with the version that should answer this request.

    Args:
        state: the app's state (`holder`, `predictor`).
        name: the model name the client asked for.
        frame: the request's rows, shape (n_rows, n_inputs).
        request_id: the request id (prediction ids derive from it).
        key: a sticky routing key (e.g. a user id) for A/B splits, or None.

    Returns:
        The version that answered and its prediction.

    Raises:
        ModelNotFound: if `name` is not served here.
        InputError: if the frame does not match the signature.
    """
    served = served_model(state.holder, name)
    return served, await state.predictor.predict(served, frame, request_id)
