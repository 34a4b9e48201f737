"""Request and response shapes: Open Inference Protocol v2 (KServe) and JSON records.

OIP v2 REST (https://github.com/kserve/open-inference-protocol,
`specification/protocol/inference_rest.md`): an `infer` request carries
named input tensors with `shape`, `datatype` and row-major `data` (flat
or nested), or, with Triton's binary tensor data extension, a
`binary_data_size` parameter whose bytes follow the JSON header (see
:mod:`mlcycle.serving._binary`). The response carries output tensors the
same way; a client asks for binary outputs with `binary_data` per output
or `binary_data_output` for all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from mlcycle.core import InputError
from mlcycle.models import Signature
from mlcycle.serving._binary import NUMPY_DTYPE, array_from_raw, raw_from_array, split_body
from mlcycle.serving._tensors import (
    DATATYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    OIP_DATATYPE,
    Tensor,
    frame_from_tensors,
)

PROBABILITIES = "probabilities"
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(INTEGER_TYPES, (int,)),
    **dict.fromkeys(FLOAT_TYPES, (int, float, type(None))),  # null: a missing value
    "BOOL": (bool,),
    "BYTES": (str, int, float, type(None)),
}
_JSON_NOUN = {"BOOL": "true/false", "BYTES": "strings", **dict.fromkeys(INTEGER_TYPES, "integers")}


@dataclass(frozen=True)
class InferRequest:
    """A decoded OIP infer request.

    Attributes:
        id: the client's `id` field as sent (checked by the caller), or None.
        inputs: the input tensors.
        outputs: the requested outputs as (name, binary_data or None), or None for all.
        binary_output: whether outputs not named in `outputs` come back binary.
    """

    id: Any
    inputs: list[Tensor]
    outputs: list[tuple[str, bool | None]] | None
    binary_output: bool

    def binary_flags(self, outputs: list[Output]) -> list[bool]:
        """Whether each output goes back binary: its own `binary_data`, else the request's."""
        own = dict(self.outputs or ())
        return [b if (b := own.get(o.name)) is not None else self.binary_output for o in outputs]


def loads_json(raw: bytes) -> Any:
    """Parse a JSON request body.

    Raises:
        InputError: if `raw` is not valid UTF-8 JSON or holds a number beyond float64.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if str(err).startswith("number is infinity"):
            raise InputError("request body has a number too large for float64") from None
        raise InputError(f"request body is not valid JSON: {err}") from None


def parse_infer_request(body: bytes, header_length: str | None = None) -> InferRequest:
    """Decode an OIP infer request body (JSON, or JSON + binary tensors).

    Args:
        body: the HTTP body.
        header_length: the `Inference-Header-Content-Length` header, if any.

    Raises:
        InputError: naming the input or field that is malformed.
    """
    header, blob = split_body(body, header_length)
    return infer_request_from(loads_json(header), blob)


def infer_request_from(obj: Any, blob: bytes = b"") -> InferRequest:
    """Decode a parsed OIP infer request; `blob` holds its binary tensors' bytes.

    Raises:
        InputError: naming the input or field that is malformed.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("inputs"), list) or not obj["inputs"]:
        raise InputError("request body must be an object with a non-empty 'inputs' list")
    offset = 0
    inputs = []
    for index, item in enumerate(obj["inputs"]):
        tensor, used = _input_tensor(item, index, blob[offset:])
        inputs.append(tensor)
        offset += used
    if offset != len(blob):
        raise InputError(f"{len(blob) - offset} bytes of binary data follow the last input")
    request_id = obj.get("id")
    return InferRequest(
        request_id if request_id != "" else None,
        inputs,
        _requested_outputs(obj),
        _parameters(obj, "request").get("binary_data_output") is True,
    )


def _field(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise InputError(f"{where}: field '{key}' must be a {kind.__name__}")
    return value


def _parameters(obj: dict[str, Any], where: str) -> dict[str, Any]:
    params = obj.get("parameters", {})
    if not isinstance(params, dict):
        raise InputError(f"{where}: field 'parameters' must be an object")
    return params


def _input_tensor(item: Any, index: int, blob: bytes) -> tuple[Tensor, int]:
    if not isinstance(item, dict):
        raise InputError(f"inputs[{index}]: must be an object with name, shape, datatype and data")
    where = f"input '{_field(item, 'name', str, f'inputs[{index}]')}'"
    datatype = _field(item, "datatype", str, where)
    shape = _field(item, "shape", list, where)
    if datatype not in DATATYPES:
        raise InputError(f"{where}: unknown datatype {datatype!r}")
    if not all(type(d) is int and d >= 0 for d in shape):
        raise InputError(f"{where}: shape must be a list of non-negative integers; got {shape}")
    count = math.prod(shape)
    size = _parameters(item, where).get("binary_data_size")
    if size is None:
        data = _field(item, "data", list, where)
        values, used = json_values(data, datatype, shape, where), 0
    elif type(size) is not int or not 0 <= size <= len(blob):
        raise InputError(f"{where}: binary_data_size {size!r} exceeds the binary data sent")
    else:
        values, used = array_from_raw(datatype, blob[:size], count, where), size
    return Tensor(item["name"], datatype, tuple(shape), values), used


def json_values(data: list[Any], datatype: str, shape: list[int], where: str) -> np.ndarray:
    """Turn an OIP JSON `data` list (flat or nested, row-major) into a flat array.

    Raises:
        InputError: naming `where` if the values do not match `shape` or
            `datatype` (e.g. a string in FP64 data, an integer out of range).
    """
    flat = _flatten(data, where)
    if len(flat) != math.prod(shape):
        raise InputError(f"{where}: shape {shape} does not match {len(flat)} values")
    allowed = _JSON_TYPES[datatype]
    width = shape[1] if len(shape) == 2 and shape[1] else 1
    for i, value in enumerate(flat):
        if type(value) not in allowed:
            noun = _JSON_NOUN.get(datatype, "numbers")
            raise InputError(
                f"{where}: {datatype} data must be {noun}; got {_short(value)} in row {i // width}"
            )
    if datatype in INTEGER_TYPES and flat:
        _check_range(flat, datatype, where)
    if datatype in FLOAT_TYPES:
        return np.array(flat, dtype=np.float64)  # JSON numbers are doubles; null is NaN
    return np.array(flat, dtype=NUMPY_DTYPE[datatype])


def _flatten(data: list[Any], where: str) -> list[Any]:
    flat = data
    while flat and isinstance(flat[0], list):
        if not all(isinstance(v, list) for v in flat):
            raise InputError(f"{where}: nested data must be lists at every level")
        flat = [x for v in flat for x in v]
    return flat


def _check_range(flat: list[int], datatype: str, where: str) -> None:
    info = np.iinfo(NUMPY_DTYPE[datatype])
    low, high = min(flat), max(flat)
    if low < info.min or high > info.max:
        value = low if low < info.min else high
        raise InputError(f"{where}: value {value} is out of range for {datatype}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _requested_outputs(obj: dict[str, Any]) -> list[tuple[str, bool | None]] | None:
    outputs = obj.get("outputs")
    if outputs is None:
        return None
    if not isinstance(outputs, list):
        raise InputError("field 'outputs' must be a list")
    requested = []
    for index, item in enumerate(outputs):
        if not isinstance(item, dict):
            raise InputError(f"outputs[{index}]: must be an object with a name")
        name = _field(item, "name", str, f"outputs[{index}]")
        binary = _parameters(item, f"output '{name}'").get("binary_data")
        requested.append((name, binary if isinstance(binary, bool) else None))
    return requested


def frame_from_oip(body: Any, signature: Signature) -> pd.DataFrame:
    """Build the model's frame (n_rows, n_inputs) from an OIP v2 JSON infer request.

    Raises:
        InputError: naming the input whose name, shape, datatype or data is wrong.
    """
    return frame_from_tensors(infer_request_from(body).inputs, signature)


@dataclass(frozen=True)
class Output:
    """One output tensor: `values` of shape `shape` and OIP `datatype`."""

    name: str
    datatype: str
    shape: list[int]
    values: np.ndarray


def output_specs(signature: Signature) -> list[tuple[str, str, list[int]]]:
    """The model's outputs as (name, OIP datatype, shape with -1 for the rows).

    Predictions first; classifiers add `probabilities`, shape [-1, n_classes],
    in the order of `signature.classes`.
    """
    dtype = "FP64" if signature.classes is None else OIP_DATATYPE[signature.output.dtype]
    specs = [(signature.output.name, dtype, [-1])]
    if signature.classes is not None:
        specs.append((PROBABILITIES, "FP64", [-1, len(signature.classes)]))
    return specs


def model_outputs(
    signature: Signature,
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
    requested: list[tuple[str, bool | None]] | None,
) -> list[Output]:
    """The output tensors a request asked for (all when `requested` is None).

    Requested names the model lacks are skipped (the caller checked them
    against the signature before predicting).
    """
    arrays = [predictions, probabilities]
    available = {
        name: Output(name, datatype, [len(predictions), *shape[1:]], values)
        for (name, datatype, shape), values in zip(output_specs(signature), arrays, strict=False)
        if values is not None
    }
    names = list(available) if requested is None else [name for name, _ in requested]
    return [available[name] for name in names if name in available]


def json_data(values: np.ndarray) -> Any:
    """`values` flattened row-major for JSON (numeric arrays stay numpy for orjson)."""
    if values.dtype == object:
        return values.reshape(-1).tolist()
    return np.ascontiguousarray(values.reshape(-1))


def encode_infer_response(
    head: dict[str, Any], outputs: list[Output], binary: list[bool]
) -> tuple[bytes, int | None]:
    """Serialise an infer response; outputs flagged in `binary` go after the JSON header.

    Returns:
        The body, and the JSON header's length in bytes if any output is
        binary (for `Inference-Header-Content-Length`), else None.
    """
    tensors, blobs = [], []
    for output, as_binary in zip(outputs, binary, strict=True):
        tensor: dict[str, Any] = {"name": output.name, "datatype": output.datatype,
                                  "shape": output.shape}  # fmt: skip
        if as_binary:
            blobs.append(raw_from_array(output.datatype, output.values))
            tensor["parameters"] = {"binary_data_size": len(blobs[-1])}
        else:
            tensor["data"] = json_data(output.values)
        tensors.append(tensor)
    header = orjson.dumps({**head, "outputs": tensors}, option=orjson.OPT_SERIALIZE_NUMPY)
    return (header + b"".join(blobs), len(header)) if blobs else (header, None)


def server_info() -> dict[str, Any]:
    """OIP v2 server metadata: name, version and the extensions this server speaks."""
    from importlib.metadata import version

    return {"name": "mlcycle", "version": version("mlcycle"), "extensions": ["binary_tensor_data"]}


def oip_metadata(name: str, version: int, signature: Signature) -> dict[str, Any]:
    """OIP v2 model metadata: name, versions, platform, inputs and outputs."""
    return {
        "name": name,
        "versions": [str(version)],
        "platform": "mlcycle-sklearn",
        "inputs": [
            {"name": c.name, "datatype": OIP_DATATYPE[c.dtype], "shape": [-1]}
            for c in signature.inputs
        ],
        "outputs": [{"name": n, "datatype": d, "shape": s} for n, d, s in output_specs(signature)],
    }
