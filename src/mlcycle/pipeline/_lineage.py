"""Lineage both ways: what a model was built from, and what was built from a dataset.

Upstream: model version -> the run that logged it -> the runs whose outputs
that run consumed (`run_lineage`, recursively) -> the dataset versions each
run read (`run_inputs`). Downstream: dataset version -> the runs that read
it -> the runs that consumed their outputs -> the model versions registered
from any of those runs (`model_versions.run_id`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from mlcycle.data import get_dataset_version
from mlcycle.registry import resolve
from mlcycle.store.schema import (
    DatasetVersionRow,
    ModelVersionRow,
    RunInputRow,
    RunLineageRow,
    RunRow,
    TagRow,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from mlcycle.store import Workspace

Kind = Literal["model_version", "run", "dataset_version"]


@dataclass(frozen=True)
class LineageNode:
    """One node of a lineage tree.

    `ref` is `name@vN` for model and dataset versions and the run id for
    runs; `label` is for people; `details` holds JSON-safe facts (run
    status, step name, cache key, object id).
    """

    kind: Kind
    ref: str
    label: str
    details: dict[str, Any] = field(default_factory=dict)
    children: tuple[LineageNode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe nested dict."""
        return {
            "kind": self.kind,
            "ref": self.ref,
            "label": self.label,
            "details": self.details,
            "children": [c.to_dict() for c in self.children],
        }


def lineage_of_model(ws: Workspace, ref: str) -> LineageNode:
    """The upstream tree of model version `ref` (`name@alias`, `name@vN`, `name@N`, `name`).

    Raises:
        ModelNotFound: if the model, alias or version does not exist.
    """
    name, _, selector = ref.partition("@")
    digits = selector.removeprefix("v")
    version = resolve(ws, f"{name}@{digits}" if digits.isdigit() else ref)
    children: tuple[LineageNode, ...] = ()
    with ws.db.session() as s:
        if version.run_id is not None:
            children = (_upstream_run(s, version.run_id, set()),)
    return LineageNode(
        "model_version",
        f"{version.model_name}@v{version.version}",
        f"model {version.model_name} v{version.version}",
        {"package_id": version.package_id, "aliases": list(version.aliases)},
        children,
    )


def lineage_of_dataset(ws: Workspace, ref: str) -> LineageNode:
    """The downstream tree of dataset version `ref` (`name@vN`, or `name` for the latest).

    Raises:
        DatasetNotFound: if the dataset version does not exist.
    """
    dataset = get_dataset_version(ws, ref)
    with ws.db.session() as s:
        readers = s.scalars(
            select(RunInputRow.run_id).filter_by(dataset_version_id=dataset.id)
        ).all()
        children = tuple(_downstream_run(s, r, set()) for r in sorted(readers))
    details = {"object_id": dataset.object_id, "kind": dataset.kind}
    return LineageNode("dataset_version", dataset.ref, f"dataset {dataset.ref}", details, children)


def _run_node(s: Session, run_id: str, children: tuple[LineageNode, ...]) -> LineageNode:
    row = s.get(RunRow, run_id)
    tags = dict(s.execute(select(TagRow.key, TagRow.value).filter_by(run_id=run_id)).all())
    step = tags.get("mlcycle.step")
    name = row.name if row else run_id[:8]
    label = f"step {step}" if step else f"run {name}"
    details = {
        "status": row.status if row else "unknown",
        "step": step,
        "cache_key": tags.get("mlcycle.cache_key"),
        "parent_id": row.parent_id if row else None,
    }
    return LineageNode("run", run_id, f"{label} ({run_id[:8]})", details, children)


def _upstream_run(s: Session, run_id: str, seen: set[str]) -> LineageNode:
    seen.add(run_id)
    ups = s.scalars(select(RunLineageRow.upstream_run_id).filter_by(run_id=run_id)).all()
    runs = tuple(_upstream_run(s, u, seen) for u in sorted(ups) if u not in seen)
    datasets = s.execute(
        select(DatasetVersionRow.dataset, DatasetVersionRow.version, DatasetVersionRow.object_id)
        .join(RunInputRow, RunInputRow.dataset_version_id == DatasetVersionRow.id)
        .filter(RunInputRow.run_id == run_id)
        .order_by(DatasetVersionRow.dataset)
    ).all()
    data = tuple(
        LineageNode("dataset_version", f"{d}@v{v}", f"dataset {d}@v{v}", {"object_id": oid})
        for d, v, oid in datasets
    )
    return _run_node(s, run_id, data + runs)


def _downstream_run(s: Session, run_id: str, seen: set[str]) -> LineageNode:
    seen.add(run_id)
    downs = s.scalars(select(RunLineageRow.run_id).filter_by(upstream_run_id=run_id)).all()
    runs = tuple(_downstream_run(s, d, seen) for d in sorted(downs) if d not in seen)
    models = s.execute(
        select(ModelVersionRow.model_name, ModelVersionRow.version)
        .filter_by(run_id=run_id)
        .order_by(ModelVersionRow.model_name, ModelVersionRow.version)
    ).all()
    made = tuple(LineageNode("model_version", f"{m}@v{v}", f"model {m} v{v}") for m, v in models)
    return _run_node(s, run_id, made + runs)
