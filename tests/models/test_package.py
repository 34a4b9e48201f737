"""Model packages: save, store, fetch and load, with integrity and trust checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlcycle.core import InputError, IntegrityError
from mlcycle.models import (
    FORMAT,
    MODEL_YAML,
    ModelMeta,
    Signature,
    fetch_package,
    load_package,
    read_meta,
    save_package,
    store_package,
)
from mlcycle.store import ObjectStore


def _double(x: np.ndarray) -> np.ndarray:
    """A function outside scikit-learn: a package must not be able to make us call it."""
    return x * 2


def _data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    y = pd.Series(3 * X["a"] - X["b"] + rng.normal(scale=0.1, size=40), name="y")
    return X, y


def _fitted() -> tuple[object, ModelMeta, pd.DataFrame]:
    from sklearn.linear_model import Ridge

    X, y = _data()
    model = Ridge(alpha=0.5).fit(X, y)
    meta = ModelMeta(
        "regression",
        Signature.infer(X, y),
        metrics={"mae": 0.1},
        params={"alpha": 0.5},
        lineage={"datasets": ["bike@v1"]},
        created_at=1.0,
    )
    return model, meta, X


def test_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    model, meta, X = _fitted()
    folder = save_package(model, meta, tmp_path / "pkg")
    assert sorted(p.name for p in folder.iterdir()) == ["model.skops", MODEL_YAML]
    objects = ObjectStore(str(tmp_path / "objects"))
    package_id = store_package(objects, folder)
    fetched = fetch_package(objects, package_id, tmp_path / "cache")
    assert fetched == tmp_path / "cache" / package_id
    loaded = load_package(fetched)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))  # type: ignore[attr-defined]
    assert loaded.meta.signature == meta.signature
    assert loaded.meta.metrics == {"mae": 0.1}
    assert loaded.meta.lineage == {"datasets": ["bike@v1"]}
    assert read_meta(fetched).to_dict()["format"] == FORMAT
    with pytest.raises(InputError, match="classification"):
        loaded.predict_proba(X)


def test_same_files_same_package_id(tmp_path: Path) -> None:
    model, meta, _ = _fitted()
    objects = ObjectStore(str(tmp_path / "objects"))
    first = save_package(model, meta, tmp_path / "one")
    copy = tmp_path / "two"
    copy.mkdir()
    for p in first.iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    assert store_package(objects, first) == store_package(objects, copy)
    (copy / MODEL_YAML).write_text((copy / MODEL_YAML).read_text() + "# edited\n")
    assert store_package(objects, copy) != store_package(objects, first)


def test_untrusted_type_is_refused(tmp_path: Path) -> None:
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    _, meta, X = _fitted()
    evil = FunctionTransformer(_double).fit(X)
    folder = tmp_path / "pkg"
    folder.mkdir()
    skops.io.dump(evil, folder / "model.skops")
    meta = dataclasses.replace(meta, flavor="sklearn")  # save_package resolves it
    (folder / MODEL_YAML).write_text(yaml.safe_dump(meta.to_dict()))
    with pytest.raises(IntegrityError, match=r"refusing to load untrusted type '.*_double'"):
        load_package(folder)


def test_corrupted_stored_bytes_are_detected(tmp_path: Path) -> None:
    model, meta, _ = _fitted()
    objects = ObjectStore(str(tmp_path / "objects"))
    package_id = store_package(objects, save_package(model, meta, tmp_path / "pkg"))
    model_oid = json.loads(objects.get_bytes(package_id))["files"]["model.skops"]
    stored = tmp_path / "objects" / model_oid[:2] / model_oid[2:]
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="corrupt"):
        fetch_package(objects, package_id, tmp_path / "cache")
    assert not (tmp_path / "cache" / package_id).exists()  # nothing half-written


def test_wrong_format_is_an_input_error(tmp_path: Path) -> None:
    model, meta, _ = _fitted()
    folder = save_package(model, meta, tmp_path / "pkg")
    data = yaml.safe_load((folder / MODEL_YAML).read_text())
    data["format"] = "mlcycle-model/999"
    (folder / MODEL_YAML).write_text(yaml.safe_dump(data))
    with pytest.raises(
        InputError, match="format must be 'mlcycle-model/1'; got 'mlcycle-model/999'"
    ):
        load_package(folder)
