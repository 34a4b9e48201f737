"""The DAG: edges by value, by file and by `after`; cycles and missing inputs are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcycle.core import PipelineError, StageConfig, parse_config
from mlcycle.pipeline._dag import DagNode, build_dag
from mlcycle.pipeline._load import load_dag
from mlcycle.pipeline._stages import stage_nodes


def _stages(**stages: dict[str, object]) -> list[DagNode]:
    return stage_nodes({k: StageConfig.model_validate(v) for k, v in stages.items()})


def test_file_edges_order_stages(tmp_path: Path) -> None:
    (tmp_path / "raw.csv").write_text("a\n1\n")
    nodes = _stages(
        report={"cmd": "x", "deps": ["features/part.csv"], "outs": ["report.txt"]},
        features={"cmd": "x", "deps": ["clean.csv"], "outs": ["features"]},
        clean={"cmd": "x", "deps": ["raw.csv"], "outs": ["clean.csv"]},
        audit={"cmd": "x", "after": ["clean"]},
    )
    dag = build_dag(nodes, tmp_path)
    assert list(dag.nodes) == ["clean", "features", "audit", "report"]
    assert dag.upstream["report"] == ("features",)  # a path under an out folder
    assert dag.upstream["audit"] == ("clean",)
    assert dag.downstream("clean") == {"features", "report", "audit"}
    assert dag.select("features", downstream=True) == ["features", "report"]
    assert dag.select("features") == ["features"]


def test_cycle_is_named(tmp_path: Path) -> None:
    nodes = _stages(
        a={"cmd": "x", "deps": ["b.txt"], "outs": ["a.txt"]},
        b={"cmd": "x", "deps": ["a.txt"], "outs": ["b.txt"]},
    )
    with pytest.raises(PipelineError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        build_dag(nodes, tmp_path)


def test_missing_input_names_step_and_path(tmp_path: Path) -> None:
    nodes = _stages(train={"cmd": "x", "deps": ["data/nope.csv"]})
    with pytest.raises(PipelineError, match=r"step 'train' depends on 'data/nope.csv'"):
        build_dag(nodes, tmp_path)


def test_two_writers_of_one_path(tmp_path: Path) -> None:
    nodes = _stages(a={"cmd": "x", "outs": ["out"]}, b={"cmd": "x", "outs": ["out/x.txt"]})
    with pytest.raises(PipelineError, match="both write"):
        build_dag(nodes, tmp_path)


def test_unknown_after_and_unknown_only(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="runs after 'nope'"):
        build_dag(_stages(a={"cmd": "x", "after": ["nope"]}), tmp_path)
    dag = build_dag(_stages(a={"cmd": "x"}), tmp_path)
    with pytest.raises(PipelineError, match="no step named 'b'; steps are: a"):
        dag.select("b")


def test_python_steps_and_stages_join_by_file(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text(
        "import mlcycle\n"
        "@mlcycle.step(outs=['prep.txt'])\n"
        "def prep() -> int:\n"
        "    open('prep.txt', 'w').write('x')\n"
        "    return 1\n"
        "@mlcycle.step\n"
        "def fit(n: int, alpha: float = 0.5) -> int:\n"
        "    return n\n"
        "@mlcycle.pipeline\n"
        "def train(scale: int = 2):\n"
        "    fit(prep())\n"
    )
    config = parse_config({"stages": {"report": {"cmd": "cat prep.txt", "deps": ["prep.txt"]}}})
    dag, name = load_dag(tmp_path, config, params={"fit.alpha": 0.1, "scale": 3})
    assert name == "train"
    assert list(dag.nodes) == ["prep", "fit", "report"]
    assert dag.upstream["report"] == ("prep",)
    assert dag.nodes["fit"].params == {"alpha": 0.1}
    with pytest.raises(PipelineError, match="step 'fit' has no param 'beta'"):
        load_dag(tmp_path, config, params={"fit.beta": 1})
    with pytest.raises(PipelineError, match="-P nope: no pipeline or stage param"):
        load_dag(tmp_path, config, params={"nope": 1})
    with pytest.raises(PipelineError, match="has no pipeline 'other'"):
        load_dag(tmp_path, config, pipeline="other")
