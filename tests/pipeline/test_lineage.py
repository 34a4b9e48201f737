"""Lineage both ways: model -> runs -> dataset versions, and dataset -> runs -> models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcycle.core import ModelNotFound, parse_config
from mlcycle.data import add_paths
from mlcycle.pipeline import lineage_of_dataset, lineage_of_model, load_dag, run_pipeline
from mlcycle.pipeline._lineage import LineageNode
from mlcycle.registry import register_model_version, set_alias
from mlcycle.store import Workspace

MODULE = """
from pathlib import Path
import mlcycle


@mlcycle.step(deps=["data.csv"])
def read() -> list:
    return Path("data.csv").read_text().split()


@mlcycle.step
def fit(rows: list, alpha: float = 0.5) -> dict:
    return {"n": len(rows), "alpha": alpha}


@mlcycle.pipeline
def train():
    fit(read())
"""


def _refs(node: LineageNode) -> list[str]:
    return [f"{node.kind}:{node.label.split(' (')[0]}"] + [
        r for c in node.children for r in _refs(c)
    ]


def test_lineage_up_from_a_model_and_down_from_a_dataset(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "pipeline.py").write_text(MODULE)
    (root / "data.csv").write_text("a\nb\nc\n")
    ws = Workspace(root, parse_config({"experiment": "lin"}))
    (dataset,) = add_paths(ws, ["data.csv"])
    dag, name = load_dag(ws.root, ws.config)
    result = run_pipeline(ws, dag, name=name)
    fit_run = next(s.run_id for s in result.steps if s.name == "fit")
    version = register_model_version(ws, "demand", "f" * 64, run_id=fit_run)
    set_alias(ws, "demand", "production", version.version)

    up = lineage_of_model(ws, "demand@production")
    assert _refs(up) == [
        "model_version:model demand v1",
        "run:step fit",
        "run:step read",
        f"dataset_version:dataset {dataset.ref}",
    ]
    assert lineage_of_model(ws, "demand@v1").to_dict() == up.to_dict()
    json.dumps(up.to_dict())  # JSON-able

    down = lineage_of_dataset(ws, dataset.ref)
    assert _refs(down) == [
        f"dataset_version:dataset {dataset.ref}",
        "run:step read",
        "run:step fit",
        "model_version:model demand v1",
    ]
    with pytest.raises(ModelNotFound):
        lineage_of_model(ws, "nope@production")
    ws.close()
