"""Step values round-trip through the object store by type; other types are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from mlcycle.core import PipelineError
from mlcycle.pipeline._values import load_value, store_value
from mlcycle.store import Workspace


@pytest.mark.parametrize(
    ("value", "codec"),
    [
        ({"a": [1, 2.5, None, True, "x"]}, "json"),
        ("text", "json"),
        (3, "json"),
        (None, "json"),
        (np.arange(12, dtype=np.float32).reshape(3, 4), "npy"),
    ],
)
def test_round_trip(workspace: Workspace, value: Any, codec: str) -> None:
    record, objects = store_value(workspace, "s", value)
    assert record["codec"] == codec and objects == [record["oid"]]
    back = load_value(workspace, record)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, value)
        assert back.dtype == value.dtype
    else:
        assert back == value


def test_frame_round_trip_and_same_content_same_id(workspace: Workspace) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "c": ["a", "b", "c"]}, index=[10, 11, 12])
    record, _ = store_value(workspace, "s", frame)
    assert record["codec"] == "parquet"
    pd.testing.assert_frame_equal(load_value(workspace, record), frame)
    again, _ = store_value(workspace, "s", frame.copy())
    assert again["oid"] == record["oid"]


def test_estimator_round_trip(workspace: Workspace) -> None:
    model = Ridge(alpha=0.3).fit(np.arange(10.0).reshape(5, 2), np.arange(5.0))
    record, _ = store_value(workspace, "fit", model)
    assert record["codec"] == "skops"
    back = load_value(workspace, record)
    np.testing.assert_allclose(back.predict([[1.0, 2.0]]), model.predict([[1.0, 2.0]]))


def test_path_value_is_stored_and_restored(workspace: Workspace) -> None:
    folder = workspace.root / "out"
    folder.mkdir()
    (folder / "a.txt").write_text("A")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text("B")
    record, objects = store_value(workspace, "s", Path("out"))
    assert record["kind"] == "dir" and record["path"] == "out"
    assert len(objects) == 3 and objects[0] == record["oid"]  # manifest + 2 files
    (folder / "a.txt").unlink()
    back = load_value(workspace, record)
    assert (back / "a.txt").read_text() == "A"


def test_unsupported_type_names_step_type_and_choices(workspace: Workspace) -> None:
    with pytest.raises(PipelineError, match=r"step 'make' returned a builtins.set.*JSON-able"):
        store_value(workspace, "make", {1, 2})
    with pytest.raises(PipelineError, match="step 'make'"):
        store_value(workspace, "make", (1, 2))  # tuples would come back as lists
    with pytest.raises(PipelineError, match="step 'objs'"):
        store_value(workspace, "objs", np.array([object()]))


def test_dict_of_model_and_metrics_stores_each_by_its_codec(workspace: Workspace) -> None:
    model = Ridge(alpha=0.5).fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    value = {"model": model, "metrics": {"mae": 0.1}, "rows": np.arange(3)}
    record, objects = store_value(workspace, "train", value)
    assert record["codec"] == "dict" and record["oid"] == objects[0]
    assert len(objects) == 4  # the dict's own record object plus one per value
    back = load_value(workspace, record)
    assert back["metrics"] == {"mae": 0.1}
    np.testing.assert_array_equal(back["rows"], np.arange(3))
    assert back["model"].predict([[3.0]])[0] == pytest.approx(model.predict([[3.0]])[0])
    again, _ = store_value(workspace, "train", {**value, "metrics": {"mae": 0.2}})
    assert again["oid"] != record["oid"], "a changed item changes the dict's id"


def test_dict_with_an_unsupported_value_names_the_key(workspace: Workspace) -> None:
    with pytest.raises(PipelineError, match=r"train\['bad'\]"):
        store_value(workspace, "train", {"model": np.arange(2), "bad": object()})
