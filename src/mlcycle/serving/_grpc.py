"""The Open Inference Protocol over gRPC (KServe v2 `GRPCInferenceService`).

The service is the published `grpc_predict_v2.proto` (see
:mod:`mlcycle.serving._proto`), served by a `grpc.aio` server on the same
event loop as the HTTP app: one model holder, one predictor and one
inference log per process, and every `ModelInfer` goes through the same
:func:`~mlcycle.serving._infer.infer` (hence `dispatch`) as REST. Tensors
arrive as typed `contents` or as `raw_input_contents` (little-endian,
row-major; BYTES elements 4-byte-length-prefixed); outputs always go back
as `raw_output_contents`, as Triton does. Errors map to status codes:
bad input INVALID_ARGUMENT, unknown model or version NOT_FOUND, too
large RESOURCE_EXHAUSTED, overloaded UNAVAILABLE.

`grpcio` is optional (`pip install mlcycle[grpc]`) and imported only here.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI
from starlette.datastructures import Headers

from mlcycle.core import InputError, MlcycleError, NotFound, ServingError, atomic_write_text
from mlcycle.serving._binary import NUMPY_DTYPE, array_from_raw, raw_from_array
from mlcycle.serving._dispatch import routing_key
from mlcycle.serving._infer import infer, request_id_from, served_version
from mlcycle.serving._protocol import InferRequest, oip_metadata, server_info
from mlcycle.serving._tensors import DATATYPES, Tensor

#: OIP datatype -> the `InferTensorContents` field that carries it (FP16 only travels raw).
_CONTENTS = {
    **dict.fromkeys(("INT8", "INT16", "INT32"), "int_contents"),
    **dict.fromkeys(("UINT8", "UINT16", "UINT32"), "uint_contents"),
    "BOOL": "bool_contents",
    "INT64": "int64_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_GRACE_SECONDS = 5.0


def _require_grpc() -> Any:
    try:
        import grpc
    except ImportError:
        raise MlcycleError("gRPC serving needs grpcio: pip install 'mlcycle[grpc]'") from None
    return grpc


def _status(grpc: Any, err: MlcycleError) -> Any:
    codes = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS",
             413: "RESOURCE_EXHAUSTED", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE",
             504: "DEADLINE_EXCEEDED"}  # fmt: skip
    fallback = "INVALID_ARGUMENT" if 400 <= err.http_status < 500 else "INTERNAL"
    return getattr(grpc.StatusCode, codes.get(err.http_status, fallback))


def _contents(tensor: Any, where: str) -> np.ndarray:
    field = _CONTENTS.get(tensor.datatype)
    if field is None:
        raise InputError(f"{where}: {tensor.datatype} data must be sent in raw_input_contents")
    values = list(getattr(tensor.contents, field))
    if tensor.datatype == "BYTES":
        try:
            return np.array([v.decode() for v in values], dtype=object)
        except UnicodeDecodeError:
            raise InputError(f"{where}: BYTES contents must be UTF-8 text") from None
    target = NUMPY_DTYPE[tensor.datatype]
    array = np.array(values, dtype=np.float64 if target.kind == "f" else None)
    if target.kind in "iu" and array.size:
        info = np.iinfo(target)
        if array.min() < info.min or array.max() > info.max:
            raise InputError(f"{where}: a value is out of range for {tensor.datatype}")
    return array.astype(target)


def request_from_proto(message: Any) -> InferRequest:
    """Decode a `ModelInferRequest` into the transport-neutral :class:`InferRequest`.

    Raises:
        InputError: naming the input whose datatype, shape or contents are wrong.
    """
    raw = list(message.raw_input_contents)
    if raw and len(raw) != len(message.inputs):
        raise InputError(f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} "
                         "inputs (one per input, in order)")  # fmt: skip
    if not message.inputs:
        raise InputError("the request has no inputs")
    tensors = []
    for index, tensor in enumerate(message.inputs):
        where = f"input '{tensor.name}'"
        shape = [int(d) for d in tensor.shape]
        if tensor.datatype not in DATATYPES:
            raise InputError(f"{where}: unknown datatype {tensor.datatype!r}")
        if any(d < 0 for d in shape):
            raise InputError(f"{where}: shape must be non-negative integers; got {shape}")
        if raw:
            values = array_from_raw(tensor.datatype, raw[index], math.prod(shape), where)
        else:
            values = _contents(tensor, where)
            if len(values) != math.prod(shape):
                raise InputError(f"{where}: shape {shape} does not match {len(values)} values")
        tensors.append(Tensor(tensor.name, tensor.datatype, tuple(shape), values))
    outputs: list[tuple[str, bool | None]] = [(o.name, True) for o in message.outputs]
    return InferRequest(message.id or None, tensors, outputs or None, binary_output=True)


def _metadata(context: Any) -> Headers:
    """The call's text metadata as case-insensitive headers (binary `-bin` keys skipped)."""
    pairs = context.invocation_metadata() or ()
    return Headers(raw=[(k.encode(), v.encode()) for k, v in pairs if isinstance(v, str)])


class InferenceServicer:
    """`GRPCInferenceService` over the app's state (`holder`, `deployment`, `predictor`).

    Args:
        state: the FastAPI app's state, shared with the REST routes.
        pb: the generated message module (`grpc_predict_v2_pb2`).
    """

    def __init__(self, state: Any, pb: Any) -> None:
        self.state, self.pb, self.grpc = state, pb, _require_grpc()

    async def _answer(self, context: Any, build: Callable[[], Any]) -> Any:
        try:
            return await build()
        except MlcycleError as err:
            await context.abort(_status(self.grpc, err), str(err))

    async def ServerLive(self, request: Any, context: Any) -> Any:
        return self.pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> Any:
        return self.pb.ServerReadyResponse(ready=True)

    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        return self.pb.ServerMetadataResponse(**server_info())

    async def ModelReady(self, request: Any, context: Any) -> Any:
        try:  # an unknown model or version is "not ready", as clients expect, not an error
            served_version(self.state, request.name, request.version)
        except NotFound:
            return self.pb.ModelReadyResponse(ready=False)
        return self.pb.ModelReadyResponse(ready=True)

    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        async def build() -> Any:
            served = served_version(self.state, request.name, request.version)
            meta = oip_metadata(served.name, served.version, served.model.meta.signature)
            tensor = self.pb.ModelMetadataResponse.TensorMetadata
            meta["inputs"] = [tensor(**t) for t in meta["inputs"]]
            meta["outputs"] = [tensor(**t) for t in meta["outputs"]]
            return self.pb.ModelMetadataResponse(**meta)

        return await self._answer(context, build)

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        return await self._answer(context, lambda: self._infer(request, context))

    async def _infer(self, message: Any, context: Any) -> Any:
        served_version(self.state, message.model_name, message.model_version)
        request = request_from_proto(message)
        headers = _metadata(context)
        request_id = (
            request_id_from(request.id, "field 'id'")
            if request.id is not None
            else request_id_from(headers.get("x-request-id"), "metadata 'x-request-id'")
        )
        key = routing_key(self.state, headers)
        result = await infer(
            self.state, message.model_name, message.model_version, request, request_id, key
        )
        head = result.head
        ids = self.pb.InferParameter(string_param=",".join(head["parameters"]["prediction_ids"]))
        response = self.pb.ModelInferResponse(
            model_name=head["model_name"], model_version=head["model_version"], id=head["id"],
            parameters={"prediction_ids": ids},
        )  # fmt: skip
        for output in result.outputs:
            response.outputs.add(name=output.name, datatype=output.datatype, shape=output.shape)
            response.raw_output_contents.append(raw_from_array(output.datatype, output.values))
        return response


async def start_grpc_server(
    state: Any, host: str, port: int, max_message_bytes: int
) -> tuple[Any, int]:
    """Start a `grpc.aio` server for `state` on `host:port` (0 = a free port).

    Args:
        state: the app's state (`holder`, `deployment`, `predictor`).
        host: the address to bind.
        port: the port; 0 picks a free one.
        max_message_bytes: the largest request or response message, in bytes.

    Returns:
        The started server and its bound port.

    Raises:
        MlcycleError: if grpcio is not installed.
        ServingError: if the address cannot be bound.
    """
    grpc = _require_grpc()
    from mlcycle.serving._proto import grpc_predict_v2_pb2 as pb
    from mlcycle.serving._proto import grpc_predict_v2_pb2_grpc as pb_grpc

    limits = [("grpc.max_receive_message_length", max_message_bytes),
              ("grpc.max_send_message_length", max_message_bytes)]  # fmt: skip
    server = grpc.aio.server(options=limits)
    servicer = InferenceServicer(state, pb)
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(target)
    except RuntimeError as err:
        raise ServingError(f"cannot bind gRPC to {target}: {err}") from None
    await server.start()
    return server, bound


def add_grpc(app: FastAPI, host: str, port: int, on_bound: Callable[[int], None]) -> None:
    """Serve gRPC next to `app` for as long as the app runs (inside its lifespan).

    The gRPC server starts after the app's own start-up (model loaded,
    inference log open) and stops first on shutdown, waiting up to 5 s for
    RPCs in flight, so the log is flushed after the last gRPC answer.

    Args:
        app: the app from :func:`~mlcycle.serving.create_app`.
        host: the address to bind.
        port: the port; 0 picks a free one.
        on_bound: called with the bound port once the server listens.
    """
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as value:
            limit = a.state.predictor.config.max_body_bytes
            server, bound = await start_grpc_server(a.state, host, port, limit)
            on_bound(bound)
            try:
                yield value
            finally:
                await server.stop(_GRACE_SECONDS)

    app.router.lifespan_context = lifespan


def on_grpc_bound(host: str, port_file: Path | None) -> Callable[[int], None]:
    """Announce the bound gRPC port: print it, and write it to `<port_file>.grpc` if given."""

    def announce(port: int) -> None:
        if port_file is not None:
            atomic_write_text(Path(f"{port_file}.grpc"), str(port))
        print(f"gRPC (Open Inference Protocol) on {host}:{port}", flush=True)

    return announce
