"""Pointer files: the plain shape is written and read without PyYAML, exactly as PyYAML would."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcycle.core import DataError
from mlcycle.data._pointers import _HEADER, Pointer, read_pointer

NAMES = st.text(
    alphabet=string.ascii_letters + string.digits + "_.-:#[]{} ~!@$%&*'\"|<>?,é\t",
    min_size=1,
    max_size=12,
)
OIDS = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.text(alphabet="0123456789", min_size=64, max_size=64),
    st.text(alphabet="01", min_size=62, max_size=62).map(lambda s: "0b" + s),
)


def _yaml_text(p: Pointer) -> str:
    body = {"path": p.path, "kind": p.kind, "blake3": p.oid, "size": p.size, "files": p.files}
    return _HEADER + yaml.safe_dump(body, sort_keys=False)


@settings(max_examples=400, deadline=None)
@given(NAMES, OIDS, st.sampled_from(["file", "dir"]), st.integers(0, 1 << 50))
def test_written_as_pyyaml_writes_and_read_as_pyyaml_reads(
    tmp_path_factory: pytest.TempPathFactory, name: str, oid: str, kind: str, size: int
) -> None:
    pointer = Pointer(name, kind, oid, size, 3)  # type: ignore[arg-type]
    text = _yaml_text(pointer)
    assert pointer.to_yaml() == text
    path = tmp_path_factory.mktemp("p") / "x.mlc"
    path.write_text(text)
    raw = yaml.safe_load(text)
    valid = isinstance(raw["blake3"], str) and len(oid) == 64 and "/" not in name
    valid = valid and isinstance(raw["path"], str) and raw["path"] not in ("", ".", "..")
    if valid and all(c in "0123456789abcdef" for c in raw["blake3"]):
        assert read_pointer(path) == Pointer(raw["path"], kind, oid, size, 3)  # type: ignore[arg-type]
    else:
        with pytest.raises(DataError):
            read_pointer(path)


@pytest.mark.parametrize(
    "text",
    [
        "path: a.csv\nkind: file\nblake3: {oid}\nsize: 1\nfiles: 1\n",  # no header
        "path: 'a.csv'\nkind: file\nblake3: {oid}\nsize: 1\nfiles: 1\n",  # quoted by hand
        "kind: file\npath: a.csv\nblake3: {oid}\nsize: 1\nfiles: 1\n",  # reordered
        "path: a.csv  # edited\nkind: file\nblake3: {oid}\nsize: 0x1\nfiles: 1\n",
    ],
)
def test_hand_edited_files_still_read(tmp_path: Path, text: str) -> None:
    oid = "ab" * 32
    path = tmp_path / "a.csv.mlc"
    path.write_text(text.format(oid=oid))
    assert read_pointer(path) == Pointer("a.csv", "file", oid, 1, 1)


def test_a_pointer_read_without_pyyaml_is_checked_as_strictly(tmp_path: Path) -> None:
    path = tmp_path / "x.mlc"
    path.write_text(f"{_HEADER}path: yes\nkind: file\nblake3: {'1' * 64}\nsize: 1\nfiles: 1\n")
    with pytest.raises(DataError, match="'blake3'"):
        read_pointer(path)
