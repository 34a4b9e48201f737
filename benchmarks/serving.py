"""Model serving: `mlcycle serve` vs `mlflow models serve` vs BentoML, same models, same load.

Models: a logistic regression and a 100-tree random forest (scikit-learn,
seeded) on 20 float features. Each server runs alone with one worker on
127.0.0.1 while wrk (https://github.com/wg/wrk, `apt-get install wrk`)
sends single-row and 100-row JSON requests at concurrency 1, 8 and 32;
the script prints req/s, p50/p99 latency and mlcycle's ratios.

Each server gets its own natural request format: mlcycle `POST /predict`
with JSON records (answers predictions, class probabilities and
prediction ids, and writes the inference log); the model is packaged with
evaluation data, as the training pipeline does, so it is served through
onnxruntime when the conversion is faithful (`--mlcycle-runtime native`
serves the scikit-learn model itself); MLflow `POST /invocations`
with `dataframe_split` (answers predictions); BentoML 1.4 a `@bentoml.api`
taking `rows: list[list[float]]` (answers predictions; its adaptive
batching is off, the default).

BentoML conflicts with MLflow's pins, so it lives in its own virtual env,
`/tmp/bentoml-venv` (created on first use: `python -m venv` + `pip install
bentoml scikit-learn==<ours> joblib`); `--skip-bentoml` leaves it out.

Usage: python benchmarks/serving.py [--seconds 10] [--skip-bentoml] [--skip-mlflow]
    [--mlcycle-runtime onnx|native] [--models lr,rf]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import joblib
import pandas as pd
import sklearn
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

VENV = Path("/tmp/bentoml-venv")
FEATURES = [f"f{i}" for i in range(20)]
CONCURRENCY = (1, 8, 32)
ROWS = (1, 100)
MODELS = {"lr": "logistic regression", "rf": "random forest (100 trees)"}

BENTO_SERVICE = """
import os
import joblib
import numpy as np
import bentoml

@bentoml.service(workers=1)
class Model:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    @bentoml.api
    def predict(self, rows: list[list[float]]) -> list[int]:
        return self.model.predict(np.asarray(rows)).tolist()
"""


@dataclass
class Server:
    """A started server: its process, the URL wrk hits and a body maker."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    body: Callable[[pd.DataFrame], bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def models(seed: int = 0) -> tuple[pd.DataFrame, dict[str, Any]]:
    x, y = make_classification(n_samples=5000, n_features=20, n_informative=10, random_state=seed)
    frame = pd.DataFrame(x, columns=FEATURES)
    return frame, {
        MODELS["lr"]: LogisticRegression(max_iter=1000).fit(frame, y),
        MODELS["rf"]: RandomForestClassifier(100, random_state=seed).fit(frame, y),
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready: {log.read_text()[-2000:]}")


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None):
    with open(log, "wb") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd
        )


def start_mlcycle(work: Path, model: Any, frame: pd.DataFrame, onnx: bool = True) -> Server:
    from mlcycle.models import Signature, read_meta, save_model, store_package
    from mlcycle.registry import register_model_version, set_alias
    from mlcycle.store import Workspace

    ws = Workspace(work / "mlcycle-ws")
    target = pd.Series(model.predict(frame), name="label")
    signature = Signature.infer(frame, target, classes=list(model.classes_))
    folder = save_model(model, work / "mlcycle-pkg", task="classification", signature=signature,
                        evaluation_data=frame if onnx else None)  # fmt: skip
    runtime = read_meta(folder).runtime
    print(f"  mlcycle serves {type(model).__name__} with runtime {runtime}", flush=True)
    version = register_model_version(ws, "bench", store_package(ws.objects, folder))
    set_alias(ws, "bench", "production", version.version)
    ws.close()
    port_file, log = work / "mlcycle.port", work / "mlcycle.log"
    cmd = [sys.executable, "-m", "mlcycle", "--workspace", str(work / "mlcycle-ws"), "serve",
           "bench@production", "--port", "0", "--port-file", str(port_file)]  # fmt: skip
    proc = spawn(cmd, log)
    deadline = time.monotonic() + 120
    while not port_file.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    base = f"http://127.0.0.1:{port_file.read_text().strip()}"
    wait_ready(proc, f"{base}/v2/health/ready", log)
    records = lambda rows: json.dumps(rows.to_dict(orient="records")).encode()  # noqa: E731
    return Server("mlcycle", proc, f"{base}/predict", records)


def start_mlflow(work: Path, model: Any, frame: pd.DataFrame) -> Server:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    path = work / "mlflow-model"
    signature = infer_signature(frame, model.predict(frame))
    # cloudpickle, MLflow's long-time default (its skops format refuses tree models)
    mlflow.sklearn.save_model(model, path, signature=signature, serialization_format="cloudpickle")
    port, log = free_port(), work / "mlflow.log"
    cmd = ["mlflow", "models", "serve", "-m", str(path), "--env-manager", "local",
           "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    proc = spawn(cmd, log)
    wait_ready(proc, f"http://127.0.0.1:{port}/ping", log)
    split = lambda rows: json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()  # noqa: E731
    return Server("mlflow", proc, f"http://127.0.0.1:{port}/invocations", split)


def bentoml_venv() -> Path:
    bentoml = VENV / "bin" / "bentoml"
    if not bentoml.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pins = ["bentoml>=1.4,<1.5", f"scikit-learn=={sklearn.__version__}", "joblib"]
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *pins], check=True)
    return bentoml


def start_bentoml(work: Path, model: Any, frame: pd.DataFrame) -> Server:
    folder = work / "bento"
    folder.mkdir(exist_ok=True)
    (folder / "service.py").write_text(BENTO_SERVICE)
    joblib.dump(model, folder / "model.joblib")
    port, log = free_port(), work / "bentoml.log"
    cmd = [
        str(bentoml_venv()),
        "serve",
        "service:Model",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {"BENCH_MODEL": str(folder / "model.joblib"), "BENTOML_DO_NOT_TRACK": "True"}
    proc = spawn(cmd, log, env, folder)
    wait_ready(proc, f"http://127.0.0.1:{port}/readyz", log)
    rows = lambda rows: json.dumps({"rows": rows.to_numpy().tolist()}).encode()  # noqa: E731
    return Server("bentoml", proc, f"http://127.0.0.1:{port}/predict", rows)


LUA = """
local f = io.open("{body}", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
f:close()
"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(url: str, body: bytes, connections: int, seconds: float, work: Path) -> dict[str, float]:
    """Run wrk; return req/s, p50 and p99 in ms, and the non-2xx + timed-out (30 s) count."""
    (work / "body.json").write_bytes(body)
    (work / "post.lua").write_text(LUA.format(body=work / "body.json"))
    cmd = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{int(seconds)}s", "--latency",
           "--timeout", "30s", "-s", str(work / "post.lua"), url]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "errors": float(bad.group(1) if bad else 0) + float(timeouts.group(1) if timeouts else 0),
    }


def run_server(start: Callable[..., Server], model: Any, frame: pd.DataFrame, seconds: float):
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    server = start(work, model, frame)
    results = {}
    try:
        wrk(server.url, server.body(frame.head(1)), 8, 2, work)  # warm-up
        for rows in ROWS:
            body = server.body(frame.head(rows))
            for c in CONCURRENCY:
                results[(rows, c)] = wrk(server.url, body, c, seconds, work)
                print(f"  {server.name:8} rows={rows:<3} c={c:<2} {results[(rows, c)]}", flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return server.name, results


def table(model: str, by_server: dict[str, dict[Any, dict[str, float]]]) -> str:
    names = list(by_server)
    head = ["rows", "conc"] + [f"{n} req/s (p50/p99 ms)" for n in names]
    head += [f"x {n}" for n in names if n != "mlcycle"]
    lines = [f"### {model}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rows in ROWS:
        for c in CONCURRENCY:
            cells = [str(rows), str(c)]
            for n in names:
                r = by_server[n][(rows, c)]
                err = f", {int(r['errors'])} errors" if r["errors"] else ""
                cells.append(f"{r['rps']:,.0f} ({r['p50']:.2f}/{r['p99']:.1f}{err})")
            ours = by_server["mlcycle"][(rows, c)]["rps"]
            cells += [
                f"{ours / by_server[n][(rows, c)]['rps']:.1f}" for n in names if n != "mlcycle"
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per cell")
    parser.add_argument("--skip-bentoml", action="store_true")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--mlcycle-runtime", choices=("onnx", "native"), default="onnx")
    parser.add_argument("--models", default="lr,rf", help="lr (logistic regression), rf (forest)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    frame, fitted = models()
    fitted = {MODELS[key]: fitted[MODELS[key]] for key in args.models.split(",")}
    mlcycle = partial(start_mlcycle, onnx=args.mlcycle_runtime == "onnx")
    starts: list[Callable[..., Server]] = [mlcycle]
    starts += [] if args.skip_mlflow else [start_mlflow]
    starts += [] if args.skip_bentoml else [start_bentoml]
    tables = []
    for model_name, model in fitted.items():
        print(f"{model_name}:", flush=True)
        by_server = dict(run_server(s, model, frame, args.seconds) for s in starts)
        tables.append(table(model_name, by_server))
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
