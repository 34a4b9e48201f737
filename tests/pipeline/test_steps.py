"""`@step` and `@pipeline`: lazy handles inside a pipeline, plain calls outside."""

from __future__ import annotations

import pytest

import mlcycle
from mlcycle.core import PipelineError
from mlcycle.pipeline._step import Node, Step


@mlcycle.step
def load(n: int = 3) -> list[int]:
    return list(range(n))


@mlcycle.step(cpus=2, outs=["model.bin"], retries=1, name="fit-model")
def fit(xs: list[int], alpha: float = 0.5) -> float:
    return sum(xs) * alpha


@mlcycle.pipeline
def train(n: int = 4, alpha: float = 0.1) -> None:
    xs = load(n)
    fit(xs, alpha=alpha)
    fit(xs)


def test_steps_are_plain_functions_outside_a_pipeline() -> None:
    assert isinstance(load, Step) and load.name == "load"
    assert fit(load(2), alpha=2.0) == 2.0
    assert fit.cpus == 2 and fit.outs == ("model.bin",) and fit.retries == 1


def test_pipeline_records_nodes_edges_and_params() -> None:
    assert train.params == {"n": 4, "alpha": 0.1}
    nodes = train.build({"n": 7})
    assert [n.name for n in nodes] == ["load", "fit-model", "fit-model-2"]
    first, second = nodes[1], nodes[2]
    assert isinstance(first.inputs["xs"], Node) and first.inputs["xs"] is nodes[0]
    assert nodes[0].params == {"n": 7}
    assert first.params == {"alpha": 0.1} and second.params == {"alpha": 0.5}


def test_pipeline_errors_name_the_problem() -> None:
    with pytest.raises(PipelineError, match="pipeline 'train' has no param 'trials'"):
        train.build({"trials": 3})

    @mlcycle.pipeline(name="broken")
    def broken() -> None:
        fit()

    with pytest.raises(PipelineError, match=r"step 'fit-model'.*missing a required argument"):
        broken.build()


def test_current_run_outside_a_step_is_an_error() -> None:
    with pytest.raises(PipelineError, match="only inside a step"):
        mlcycle.current_run()
