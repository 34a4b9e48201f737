"""BLAKE3 hashing of bytes and files, and ids."""

from __future__ import annotations

from pathlib import Path

import blake3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcycle.core import hash_bytes, hash_file, is_object_id, new_id

# Test vector from the BLAKE3 spec: the hash of the empty input.
EMPTY_BLAKE3 = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def _random_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size=n, dtype=np.uint8).tobytes()


def test_known_vector() -> None:
    assert hash_bytes(b"") == EMPTY_BLAKE3


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert hash_file(path) == EMPTY_BLAKE3


@pytest.mark.parametrize(
    "size",
    [1, 1000, (1 << 20) + 7, (8 << 20) - 1, 8 << 20, (9 << 20) + 123],
    ids=["1B", "1KB", "1MiB+7", "8MiB-1", "8MiB", "9MiB+123"],
)
def test_hash_file_matches_hash_bytes_and_blake3(tmp_path: Path, size: int) -> None:
    data = _random_bytes(size, seed=size)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = blake3.blake3(data).hexdigest()
    assert hash_bytes(data) == expected
    assert hash_file(path) == expected
    assert hash_file(str(path)) == expected
    assert is_object_id(expected)


def test_one_changed_byte_changes_hash(tmp_path: Path) -> None:
    data = bytearray(_random_bytes((9 << 20), seed=1))
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    before = hash_file(path)
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(data)
    assert hash_file(path) != before


def test_hash_file_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_file(tmp_path / "nope")


@settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=5000))
def test_hash_file_equals_hash_bytes_property(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "p.bin"
    path.write_bytes(data)
    assert hash_file(path) == hash_bytes(data) == blake3.blake3(data).hexdigest()


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (EMPTY_BLAKE3, True),
        (EMPTY_BLAKE3.upper(), False),
        (EMPTY_BLAKE3[:-1], False),
        (EMPTY_BLAKE3 + "0", False),
        ("g" * 64, False),
        ("", False),
    ],
)
def test_is_object_id(value: str, ok: bool) -> None:
    assert is_object_id(value) is ok


def test_new_id_is_32_hex_and_unique() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
