"""`mlcycle build`: a Dockerfile and Kubernetes manifests for serving a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcycle.cli import _context
from mlcycle.cli._output import console


def register(app: typer.Typer) -> None:
    """Add the commands of this module to `app`."""
    app.command("build")(build)


def build(
    model: Annotated[str, typer.Argument(help="MODEL@ALIAS (or MODEL@VERSION) to serve.")],
    output: Annotated[Path, typer.Option(help="Folder to create with the artifacts.")],
    image: Annotated[
        str | None, typer.Option(help="Image NAME:TAG the manifests run [default: MODEL:vN].")
    ] = None,
    replicas: Annotated[int, typer.Option(help="Replicas (the autoscaler's minimum).")] = 2,
    max_replicas: Annotated[int, typer.Option(help="The autoscaler's maximum.")] = 10,
    cpu: Annotated[str, typer.Option(help="CPU request per pod.")] = "500m",
    memory: Annotated[str, typer.Option(help="Memory request per pod (limit: twice).")] = "512Mi",
) -> None:
    """Write a Dockerfile, an image workspace and Kubernetes manifests for MODEL."""
    from mlcycle.registry import resolve
    from mlcycle.serving._build import BuildSpec, build_artifacts, k8s_name

    ws = _context.open_workspace()
    version = resolve(ws, model)
    tag = image or f"{k8s_name(version.model_name)}:v{version.version}"
    spec = BuildSpec(tag, replicas, max_replicas, cpu, memory)
    result = build_artifacts(ws, model, output, spec)
    for file in result.files:
        console.print(f"wrote {output / file}", soft_wrap=True)
    next_steps = f"docker build -t {tag} {output} && kubectl apply -f {output / 'k8s'}"
    console.print(f"Next: {next_steps}", soft_wrap=True)
