"""Choosing which deployed model version answers a request.

Every inference route (REST v2, `/predict`, gRPC) goes through
:func:`dispatch`, so canary, shadow and A/B routing live here and
nowhere else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from mlcycle.core import InputError, MlcycleError, ModelNotFound, NotFound, ServingError
from mlcycle.serving._holder import ModelHolder, Served
from mlcycle.serving._predict import Prediction
from mlcycle.serving._rollout import Deployment
from mlcycle.serving._tensors import Inputs

log = logging.getLogger("mlcycle.serving")


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


def routing_key(state: Any, headers: Mapping[str, str]) -> str | None:
    """The request's sticky routing key (the A/B header's value), or None."""
    header: str | None = state.deployment.sticky_header
    return headers.get(header) if header else None


async def dispatch(
    state: Any,
    name: str,
    inputs: Inputs,
    request_id: str,
    key: str | None = None,
    *,
    pinned: Served | None = None,
) -> tuple[Served, Prediction]:
    """Predict `inputs` with the version that should answer this request.

    A canary or A/B split may pick another version than the primary; a
    shadow gets a copy after the answer is ready (in the background, its
    failures logged and counted, never returned).

    Args:
        state: the app's state (`holder`, `deployment`, `predictor`).
        name: the model name the client asked for.
        inputs: the request's rows, shape (n_rows, n_inputs): a :class:`Matrix`
            for a numeric signature, else the frame as received.
        request_id: the request id (prediction ids derive from it).
        key: a sticky routing key (e.g. a user id) for A/B splits, or None.
        pinned: the version the client asked for by number (no split applies), or None.

    Returns:
        The version that answered and its prediction.

    Raises:
        ModelNotFound: if `name` is not served here.
        InputError: if the rows do not match the signature.
        ServingError: if the model failed on these rows.
    """
    served_model(state.holder, name)
    deployment: Deployment = state.deployment
    if pinned is None:
        served, role = deployment.route(request_id, key)
    else:
        served = pinned
        role = "primary" if pinned.version == state.holder.current.version else "canary"
    result = await _predict(state, served, inputs, request_id, role)
    if deployment.shadow is not None:
        deployment.spawn(_shadow(state, deployment.shadow.current, inputs, request_id))
    return served, result


async def _predict(
    state: Any, served: Served, inputs: Inputs, request_id: str, role: str
) -> Prediction:
    start = time.perf_counter()
    try:
        result: Prediction = await state.predictor.predict(served, inputs, request_id, role=role)
    except (InputError, NotFound):
        raise  # the client's fault: not counted against the version
    except Exception as err:  # a model or server failure: counts against this version
        state.deployment.record(served, time.perf_counter() - start, failed=True)
        if isinstance(err, MlcycleError):
            raise
        raise ServingError(
            f"Model '{served.name}' version {served.version} failed: {type(err).__name__}: {err}"
        ) from err
    state.deployment.record(served, time.perf_counter() - start, failed=False)
    return result


async def _shadow(state: Any, served: Served, inputs: Inputs, request_id: str) -> None:
    try:
        await _predict(state, served, inputs, request_id, "shadow")
    except MlcycleError as err:  # never reaches the client, who already has the answer
        log.warning("shadow version %d failed on request %s: %s", served.version, request_id, err)
