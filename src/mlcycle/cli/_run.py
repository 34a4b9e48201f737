"""`mlcycle run`, `mlcycle dag` and `mlcycle lineage`: the pipeline from the command line.

`run`'s work is in :mod:`mlcycle.cli._run_command` (Typer-free, for the fast path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console, print_json
from mlcycle.cli._run_command import StepProgress as StepProgress  # re-exported
from mlcycle.cli._run_command import parse_grid as parse_grid  # re-exported
from mlcycle.cli._run_command import run_command

if TYPE_CHECKING:
    from mlcycle.pipeline._dag import Dag
    from mlcycle.pipeline._lineage import LineageNode

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def register(app: typer.Typer) -> None:
    """Add the commands of this module to `app`."""
    app.command("run")(run)
    app.command("dag")(dag)
    app.command("lineage")(lineage)


def run(
    pipeline: Annotated[
        str | None, typer.Argument(help="The @pipeline to run (needed if there are several).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Run steps even when cached.")] = False,
    only: Annotated[str | None, typer.Option("--only", help="Run just this step.")] = None,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="With --only: also the steps after it.")
    ] = False,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-P", help="KEY=VALUE or STEP.KEY=VALUE.")
    ] = None,
    sweep: Annotated[
        list[str] | None, typer.Option("--sweep", help="KEY=A,B,C: one run per value (a grid).")
    ] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", help="local or ray [default: config].")
    ] = None,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster address.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the pipeline: steps whose code, params and inputs are unchanged are skipped."""
    run_command(pipeline, force, only, downstream, param, sweep, executor, address, as_json)


def dag(
    pipeline: Annotated[str | None, typer.Argument(help="The @pipeline to draw.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Draw the pipeline's DAG: steps by layer, each with the steps it needs."""
    from mlcycle.pipeline._load import load_dag

    ws = _context.open_workspace()
    graph, name = load_dag(ws.root, ws.config, pipeline)
    layers = layer_of(graph)
    if as_json:
        steps = [_step_dict(graph, n, layers[n]) for n in graph.nodes]
        print_json({"pipeline": name, "steps": steps})
        return
    console.print(draw(graph, name, layers), highlight=False, markup=False)


def layer_of(graph: Dag) -> dict[str, int]:
    """Each step's layer: 0 for steps that need none, else 1 + the deepest step it needs."""
    layers: dict[str, int] = {}
    for name in graph.nodes:  # topological order
        layers[name] = 1 + max((layers[u] for u in graph.upstream[name]), default=-1)
    return layers


def _step_dict(graph: Dag, name: str, layer: int) -> dict[str, Any]:
    node = graph.nodes[name]
    return {
        "name": name,
        "kind": node.kind,
        "layer": layer,
        "upstream": list(graph.upstream[name]),
        "deps": list(node.deps),
        "outs": list(node.outs),
        "params": dict(node.params),
    }


def draw(graph: Dag, name: str, layers: dict[str, int]) -> str:
    """The DAG as text: one block per layer, each step with arrows from the steps it needs."""
    depth = max(layers.values(), default=-1) + 1
    lines = [f"Pipeline {name}: {len(graph.nodes)} steps in {depth} layers"]
    width = max((len(n) for n in graph.nodes), default=0)
    for layer in range(depth):
        lines.append(f"── layer {layer} " + "─" * max(0, width - 2))
        for step in (n for n in graph.nodes if layers[n] == layer):
            node = graph.nodes[step]
            ups = graph.upstream[step]
            arrow = f"  ◀── {', '.join(ups)}" if ups else ""
            outs = f"  → {', '.join(node.outs)}" if node.outs else ""
            lines.append(f"  {step:<{width}}  [{node.kind}]{arrow}{outs}")
    return "\n".join(lines)


def lineage(
    ref: Annotated[str, typer.Argument(help="MODEL@ALIAS, MODEL@vN or DATASET@vN.")],
    as_json: JsonFlag = False,
) -> None:
    """Show what a model version was built from, or what was built from a dataset version."""
    from mlcycle.core import ModelNotFound, NotFound
    from mlcycle.pipeline._lineage import lineage_of_dataset, lineage_of_model

    ws = _context.open_workspace()
    try:
        tree = lineage_of_model(ws, ref)
    except ModelNotFound:
        try:
            tree = lineage_of_dataset(ws, ref)
        except NotFound:
            raise NotFound(
                f"'{ref}' is neither a model version nor a dataset version; "
                "see 'mlcycle models list' and 'mlcycle data list'"
            ) from None
    if as_json:
        print_json(tree.to_dict())
        return
    console.print(rich_tree(tree))


def rich_tree(node: LineageNode, parent: Any = None) -> Any:
    """A Rich Tree of a lineage tree."""
    from rich.tree import Tree

    style = {"model_version": "bold magenta", "run": "cyan", "dataset_version": "green"}
    status = node.details.get("status")
    label = f"[{style[node.kind]}]{node.label}[/]" + (f" [dim]{status}[/]" if status else "")
    branch = Tree(label) if parent is None else parent.add(label)
    for child in node.children:
        rich_tree(child, branch)
    return branch
