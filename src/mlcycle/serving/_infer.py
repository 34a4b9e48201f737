"""One OIP inference, whichever transport carried it (REST JSON, REST binary, gRPC).

The transports decode their request into an :class:`InferRequest`; this
module checks the model name, version and request id, builds the model's
frame, runs :func:`~mlcycle.serving._dispatch.dispatch` (so canary, shadow
and batching apply the same way to every route) and picks the outputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlcycle.core import InputError, ModelNotFound, new_id
from mlcycle.models import Signature
from mlcycle.serving._dispatch import dispatch, served_model
from mlcycle.serving._holder import Served
from mlcycle.serving._metrics import note_model
from mlcycle.serving._protocol import InferRequest, Output, model_outputs, output_specs
from mlcycle.serving._tensors import inputs_from_tensors

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,48}$")


def request_id_from(value: Any, where: str) -> str:
    """The request id `value` (a new one if None), checked.

    Raises:
        InputError: naming `where` if it is not 1-48 letters, digits or `_.:-`.
    """
    if value is None:
        return new_id()
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise InputError(f"{where} must be 1-48 characters of letters, digits, '_.:-'")
    return value


def served_version(state: Any, name: str, version: str | None) -> Served:
    """The model answering for `name`: the primary, or the deployed `version` if given
    (any version this deployment serves: primary, canary, A/B arm or shadow).

    Raises:
        ModelNotFound: if `name` is not served here, or no deployed version is `version`.
    """
    served = served_model(state.holder, name)
    if not version or version == str(served.version):
        return served
    deployed: list[Served] = [holder.current for holder in state.deployment.holders()]
    for candidate in deployed:
        if str(candidate.version) == version:
            return candidate
    versions = ", ".join(sorted({str(c.version) for c in deployed}, key=int))
    raise ModelNotFound(
        f"Model '{name}' version {version} is not served here "
        f"(this server serves version {versions})"
    )


@dataclass(frozen=True)
class InferResult:
    """An answered inference: the response head, its outputs and their encoding.

    Attributes:
        head: `model_name`, `model_version`, `id` and `parameters.prediction_ids`.
        outputs: the output tensors the client asked for.
        binary: for each output, whether it goes back as raw bytes.
    """

    head: dict[str, Any]
    outputs: list[Output]
    binary: list[bool]


async def infer(
    state: Any, name: str, version: str | None, request: InferRequest, request_id: str,
    key: str | None = None,
) -> InferResult:  # fmt: skip
    """Run `request` against model `name` through :func:`dispatch`.

    Raises:
        ModelNotFound: if the model or version is not served here.
        InputError: naming the input or output that does not fit the model.
    """
    primary = served_version(state, name, version)
    note_model(primary.name, primary.version)  # a request refused here counts against it
    signature = primary.model.meta.signature
    inputs = inputs_from_tensors(request.inputs, signature)
    _check_requested(signature, request)
    pinned = primary if version else None  # /versions/{v}/infer: that version answers
    served, result = await dispatch(state, name, inputs, request_id, key, pinned=pinned)
    outputs = model_outputs(
        served.model.meta.signature, result.predictions, result.probabilities, request.outputs
    )
    head = {"model_name": served.name, "model_version": str(served.version), "id": request_id,
            "parameters": {"prediction_ids": result.ids}}  # fmt: skip
    return InferResult(head, outputs, request.binary_flags(outputs))


def _check_requested(signature: Signature, request: InferRequest) -> None:
    names = [name for name, _, _ in output_specs(signature)]
    for name, _ in request.outputs or ():
        if name not in names:
            raise InputError(
                f"output '{name}' is not an output of this model (outputs: {', '.join(names)})"
            )
