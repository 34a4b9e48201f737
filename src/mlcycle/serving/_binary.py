"""Raw tensor bytes: OIP datatypes as little-endian buffers (REST binary extension, gRPC raw).

Triton's binary tensor data extension
(https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md)
sends a JSON header of `Inference-Header-Content-Length` bytes followed by
each binary tensor's bytes, in the order of the tensors that carry a
`binary_data_size` parameter. The gRPC `raw_input_contents` /
`raw_output_contents` use the same element encoding: numbers are
little-endian and row-major, BOOL is one byte (0 or 1) per element, and a
BYTES element is a 4-byte little-endian length followed by its bytes.
"""

from __future__ import annotations

import struct

import numpy as np

from mlcycle.core import InputError

#: OIP datatype -> numpy dtype of its raw little-endian elements (BYTES: Python objects).
NUMPY_DTYPE: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
_LENGTH = struct.Struct("<I")


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """Split a request body into its JSON header and the binary tensor bytes after it.

    Args:
        body: the whole HTTP body.
        header_length: the `Inference-Header-Content-Length` header, or None
            (the whole body is JSON).

    Raises:
        InputError: if the header is not an integer within the body's length.
    """
    if header_length is None:
        return body, b""
    if not header_length.strip().isdigit() or int(header_length) > len(body):
        raise InputError(
            f"header 'Inference-Header-Content-Length' must be an integer <= the body's "
            f"{len(body)} bytes; got {header_length[:24]!r}"
        )
    cut = int(header_length)
    return body[:cut], body[cut:]


def array_from_raw(datatype: str, raw: bytes, count: int, where: str) -> np.ndarray:
    """Decode `count` elements of `datatype` from raw bytes; returns shape (count,).

    Raises:
        InputError: naming `where` if the byte count does not match, a BOOL
            byte is not 0/1, or a BYTES element is truncated or not UTF-8.
    """
    if datatype == "BYTES":
        return _bytes_elements(raw, count, where)
    dtype = NUMPY_DTYPE[datatype]
    if len(raw) != count * dtype.itemsize:
        raise InputError(
            f"{where}: {len(raw)} bytes of {datatype} data do not match {count} elements "
            f"({count * dtype.itemsize} bytes)"
        )
    if datatype == "BOOL":
        octets = np.frombuffer(raw, dtype=np.uint8)
        if (octets > 1).any():
            raise InputError(f"{where}: BOOL bytes must be 0 or 1")
        return octets.astype(bool)
    return np.frombuffer(raw, dtype=dtype)


def _bytes_elements(raw: bytes, count: int, where: str) -> np.ndarray:
    out = np.empty(count, dtype=object)
    offset = 0
    for i in range(count):
        if offset + 4 > len(raw):
            raise InputError(f"{where}: BYTES data ends before element {i} of {count}")
        (size,) = _LENGTH.unpack_from(raw, offset)
        element = raw[offset + 4 : offset + 4 + size]
        if len(element) != size:
            raise InputError(f"{where}: BYTES element {i} is truncated")
        try:
            out[i] = element.decode()
        except UnicodeDecodeError:
            raise InputError(f"{where}: BYTES element {i} is not valid UTF-8") from None
        offset += 4 + size
    if offset != len(raw):
        raise InputError(f"{where}: {len(raw) - offset} bytes left after {count} BYTES elements")
    return out


def raw_from_array(datatype: str, values: np.ndarray) -> bytes:
    """Encode an array as raw `datatype` bytes, row-major (the inverse of :func:`array_from_raw`).

    BYTES elements are written as UTF-8 text of `str(value)` (bytes as they are).
    """
    if datatype != "BYTES":
        return np.ascontiguousarray(values, dtype=NUMPY_DTYPE[datatype]).tobytes()
    parts: list[bytes] = []
    for value in values.reshape(-1):
        data = value if isinstance(value, bytes) else str(value).encode()
        parts += (_LENGTH.pack(len(data)), data)
    return b"".join(parts)
