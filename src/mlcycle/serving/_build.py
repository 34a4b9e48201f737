"""Deployment artifacts for a registered model: a Dockerfile and Kubernetes manifests.

`build_artifacts` writes into one folder:

- `workspace/`: a minimal workspace holding only this model (its package
  registered as version 1 under the same name and alias), so the image
  serves without reaching the team's registry;
- `Dockerfile`: a Python base image, `pip install mlcycle[EXTRAS]` with
  the extras the model's flavor and runtime need, the workspace copied in,
  a non-root user, `HEALTHCHECK` on `/v2/health/live`, and
  `CMD mlcycle serve NAME@ALIAS` on :data:`PORT`;
- `k8s/deployment.yaml` (apps/v1: liveness on `/v2/health/live`, readiness
  on `/v2/health/ready`, resources, `prometheus.io/*` scrape annotations on
  the pod template), `k8s/service.yaml` (v1, ClusterIP) and `k8s/hpa.yaml`
  (autoscaling/v2 HorizontalPodAutoscaler on CPU utilization).

Probe paths and the metrics path are the model server's own routes (see
:mod:`mlcycle.serving._app`).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcycle.core import Config, InputError, atomic_write_text, new_id
from mlcycle.models import fetch_package, flavor_extra, read_meta, store_package
from mlcycle.registry import register_model_version, resolve, set_alias
from mlcycle.store import Workspace, move_into_place

PORT = 8080
LIVE, READY, METRICS = "/v2/health/live", "/v2/health/ready", "/metrics"
IMAGE_WORKSPACE = "/srv/mlcycle"
USER_ID = 10001


@dataclass(frozen=True)
class BuildSpec:
    """What to deploy and how big.

    Attributes:
        image: the image reference the manifests run, `NAME:TAG`.
        replicas: the Deployment's replicas and the autoscaler's minimum.
        max_replicas: the autoscaler's maximum.
        cpu, memory: the container's requests (Kubernetes quantities); the
            memory limit is twice the request.
        target_cpu: the autoscaler's target CPU utilization, percent.
        base_image: the Python image the Dockerfile starts from.
    """

    image: str
    replicas: int = 2
    max_replicas: int = 10
    cpu: str = "500m"
    memory: str = "512Mi"
    target_cpu: int = 70
    base_image: str = "python:3.11-slim"

    def check(self) -> None:
        """Raises InputError if the replica bounds are not 1 <= replicas <= max_replicas."""
        if not 1 <= self.replicas <= self.max_replicas:
            raise InputError(
                f"replicas must be between 1 and max_replicas ({self.max_replicas}); "
                f"got {self.replicas}"
            )


def k8s_name(model: str) -> str:
    """A DNS-1123 label for `model`: lower case, `-` for other characters, at most 63.

    Raises:
        InputError: if nothing usable is left.
    """
    name = re.sub(r"[^a-z0-9-]+", "-", model.lower()).strip("-")[:63].rstrip("-")
    if not name:
        raise InputError(f"model name {model!r} has no characters usable in a Kubernetes name")
    return name


def _labels(name: str, model: str, version: int) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "mlcycle",
        "mlcycle.io/model": k8s_name(model),
        "mlcycle.io/source-version": str(version),
    }


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _container(spec: BuildSpec) -> dict[str, Any]:
    return {
        "name": "model-server",
        "image": spec.image,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        # the model loads before the port opens: allow up to 5 minutes for it
        "startupProbe": _probe(LIVE, 5, 60),
        "livenessProbe": _probe(LIVE, 10, 3),
        "readinessProbe": _probe(READY, 5, 2),
        "resources": {
            "requests": {"cpu": spec.cpu, "memory": spec.memory},
            "limits": {"memory": _double(spec.memory)},
        },
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
    }


def _double(quantity: str) -> str:
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", quantity)
    if match is None:
        raise InputError(
            f"memory must be an integer Kubernetes quantity like 512Mi; got {quantity!r}"
        )
    return f"{int(match[1]) * 2}{match[2]}"


def deployment(name: str, labels: dict[str, str], spec: BuildSpec) -> dict[str, Any]:
    """The apps/v1 Deployment of the model server."""
    selector = {"app.kubernetes.io/name": name}
    scrape = {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {**scrape, "prometheus.io/path": METRICS},
                },
                "spec": {
                    "securityContext": {"runAsUser": USER_ID, "runAsNonRoot": True},
                    "containers": [_container(spec)],
                },
            },
        },
    }


def service(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """The v1 ClusterIP Service in front of the pods (port 80 -> http)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(name: str, labels: dict[str, str], spec: BuildSpec) -> dict[str, Any]:
    """The autoscaling/v2 HorizontalPodAutoscaler on average CPU utilization."""
    target = {"type": "Utilization", "averageUtilization": spec.target_cpu}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": spec.replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
        },
    }


def dockerfile(ref: str, extras: list[str], spec: BuildSpec, mlcycle_version: str) -> str:
    """The Dockerfile text serving `ref` from the copied workspace."""
    package = f"mlcycle[{','.join(extras)}]" if extras else "mlcycle"
    live = f"http://127.0.0.1:{PORT}{LIVE}"
    command = ["mlcycle", "--workspace", IMAGE_WORKSPACE, "serve", ref, "--host", "0.0.0.0"]
    command += ["--port", str(PORT)]
    return "\n".join([
        f"# Serves {ref}; written by `mlcycle build`.",
        f"FROM {spec.base_image}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1",
        f'RUN pip install "{package}=={mlcycle_version}"',
        f"RUN useradd --create-home --uid {USER_ID} mlcycle",
        f"COPY --chown={USER_ID}:{USER_ID} workspace/ {IMAGE_WORKSPACE}/",
        f"USER {USER_ID}",
        f"EXPOSE {PORT}",
        "HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \\",
        f"  CMD python -c \"import urllib.request; urllib.request.urlopen('{live}', timeout=2)\"",
        f"CMD {json.dumps(command)}",
        "",
    ])  # fmt: skip


@dataclass(frozen=True)
class BuildResult:
    """The files `build_artifacts` wrote (paths inside the output folder)."""

    folder: Path
    files: tuple[str, ...]
    extras: tuple[str, ...]


def _image_ref(ref: str) -> tuple[str, str]:
    """(model name, alias) the image serves: `ref`'s alias, or `production` for a version."""
    name, _, selector = ref.partition("@")
    return name, selector if selector and not selector.isdigit() else "production"


def _image_workspace(ws: Workspace, ref: str, folder: Path) -> list[str]:
    """Register `ref`'s package in a fresh workspace at `folder`; return the pip extras it needs."""
    name, alias = _image_ref(ref)
    record = resolve(ws, ref)
    package = fetch_package(ws.objects, record.package_id, ws.state_dir / "packages")
    meta = read_meta(package)
    image_ws = Workspace(folder, Config())
    try:
        package_id = store_package(image_ws.objects, package)
        version = register_model_version(image_ws, name, package_id, metrics=record.metrics)
        set_alias(image_ws, name, alias, version.version, reason=f"mlcycle build {ref}")
    finally:
        image_ws.close()
    extras = [flavor_extra(meta.flavor or "sklearn"), "onnx" if meta.runtime == "onnx" else None]
    return sorted({e for e in extras if e})


def build_artifacts(ws: Workspace, ref: str, output: Path, spec: BuildSpec) -> BuildResult:
    """Write the image workspace, Dockerfile and Kubernetes manifests for `ref` into `output`.

    Args:
        ws: the workspace whose registry holds the model.
        ref: `NAME@ALIAS` (the image serves that alias) or `NAME@VERSION`.
        output: the folder to create (atomically; it must not exist yet).
        spec: image name, replicas and resources.

    Raises:
        ModelNotFound: if the model, alias or version does not exist.
        InputError: if `output` exists or the spec is invalid.
    """
    from mlcycle import __version__

    spec.check()
    if output.exists():
        raise InputError(f"output folder {output} already exists; choose a new one")
    model, alias = _image_ref(ref)
    name, version = k8s_name(model), resolve(ws, ref).version
    tmp = output.with_name(f".{output.name}.{new_id()}")
    try:
        extras = _image_workspace(ws, ref, tmp / "workspace")
        labels = _labels(name, model, version)
        atomic_write_text(
            tmp / "Dockerfile", dockerfile(f"{model}@{alias}", extras, spec, __version__)
        )
        manifests = {
            "deployment.yaml": deployment(name, labels, spec),
            "service.yaml": service(name, labels),
            "hpa.yaml": autoscaler(name, labels, spec),
        }
        (tmp / "k8s").mkdir()
        for file, manifest in manifests.items():
            atomic_write_text(tmp / "k8s" / file, yaml.safe_dump(manifest, sort_keys=False))
        move_into_place(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    files = ("Dockerfile", "workspace/", *(f"k8s/{f}" for f in manifests))
    return BuildResult(output, files, tuple(extras))
