"""The Parquet inference log: rotation, windows, labels, crash safety, graceful shutdown."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from fastapi.testclient import TestClient
from tests.serving._models import MODEL, Gated, toy_frame, toy_workspace

from mlcycle.core import ServingConfig
from mlcycle.serving import (
    ModelHolder,
    create_app,
    log_labels,
    read_inference_log,
    scan_inference_log,
    start_server_process,
)
from mlcycle.serving._log_store import Batch, LogWriter, find_rows
from mlcycle.serving._tensors import Matrix
from mlcycle.store import Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = toy_workspace(Path(tmp_path_factory.mktemp("inference-log")))
    yield workspace
    workspace.close()


def _parts(ws: Workspace) -> list[Path]:
    return sorted((ws.state_dir / "inference_log" / MODEL).glob("*.parquet"))


def _wait(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _post(url: str, rows: int, seed: int) -> list[str]:
    body = toy_frame(rows, seed).to_dict(orient="records")
    answer = httpx.post(f"{url}/predict", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["ids"])


def test_flushes_rotate_parts_and_reads_join_labels(ws: Workspace) -> None:
    before = len(_parts(ws))
    app = create_app(ModelHolder(ws, f"{MODEL}@production"), config=ServingConfig())
    with TestClient(app) as client:
        first = client.post("/predict", json=toy_frame(3, 1).to_dict(orient="records")).json()
        app.state.predictor.log.flush()
        second = client.post("/predict", json=toy_frame(2, 2).to_dict(orient="records")).json()
        ids = [*first["ids"], *second["ids"]]
        logged = read_inference_log(ws, ids)  # sees the unflushed rows of this process
    assert len(_parts(ws)) == before + 2  # one part per flush: the log rotates
    assert logged["prediction_id"].tolist() == ids
    assert logged["prediction"].tolist() == first["predictions"] + second["predictions"]
    pd.testing.assert_frame_equal(
        logged[list(toy_frame(1).columns)],
        pd.concat([toy_frame(3, 1), toy_frame(2, 2)], ignore_index=True),
    )
    assert logged["proba"][0] == pytest.approx(first["probabilities"][0])
    assert log_labels(ws, [ids[0], ids[4], "nope-0"], [1, 0, 1]) == 2
    labels = read_inference_log(ws, ids)["label"].tolist()
    assert labels[0] == 1 and labels[4] == 0 and all(pd.isna(x) for x in labels[1:4])


def test_scan_streams_a_time_window_part_by_part(ws: Workspace) -> None:
    app = create_app(ModelHolder(ws, f"{MODEL}@production"), config=ServingConfig())
    with TestClient(app) as client:
        client.post("/predict", json=toy_frame(2, 3).to_dict(orient="records"))
        app.state.predictor.log.flush()
        middle = time.time()
        client.post("/predict", json=toy_frame(4, 4).to_dict(orient="records"))
    everything = list(scan_inference_log(ws, model_name=MODEL))
    late = pd.concat(scan_inference_log(ws, model_name=MODEL, start=middle), ignore_index=True)
    early = pd.concat(scan_inference_log(ws, end=middle, columns=["timestamp", "role"]))
    assert len(everything) == len(_parts(ws))  # one frame per part
    assert len(late) == 4 and (late["timestamp"] >= middle).all()
    assert list(early.columns) == ["timestamp", "role"] and (early["timestamp"] < middle).all()
    assert set(late["role"]) == {"primary"} and set(late["model_version"]) == {1}
    assert list(scan_inference_log(ws, model_name="no-such-model")) == []


def test_a_killed_server_keeps_every_flushed_prediction(ws: Workspace) -> None:
    server = start_server_process(ws, f"{MODEL}@production", timeout=300, log_flush_seconds=0.2)
    with server:
        ids = [pid for seed in range(5) for pid in _post(server.url, 2, seed)]
        known = {p.name for p in _parts(ws)}
        _wait(lambda: any(p.name not in known for p in _parts(ws)), "the periodic flush")
        _wait(lambda: len(read_inference_log(ws, ids)) == len(ids), "every acknowledged row")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(30)
    assert read_inference_log(ws, ids)["prediction_id"].tolist() == ids
    leftovers = list((ws.state_dir / "inference_log" / MODEL).glob(".*"))
    assert all(p.name.endswith(".tmp") for p in leftovers)  # readers skip these


def test_sigterm_flushes_what_the_interval_had_not(ws: Workspace) -> None:
    server = start_server_process(ws, f"{MODEL}@production", timeout=300, log_flush_seconds=3600)
    with server:
        ids = _post(server.url, 3, 9)
        assert read_inference_log(ws, ids).empty  # still in the server's memory
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == -signal.SIGTERM  # uvicorn re-raises it once done
    assert read_inference_log(ws, ids)["prediction_id"].tolist() == ids


def test_graceful_shutdown_finishes_requests_in_flight(ws: Workspace) -> None:
    holder = ModelHolder(ws, f"{MODEL}@production")
    gated = Gated(holder.current.model.estimator)
    holder.current.model.estimator = gated
    app = create_app(holder, config=ServingConfig(log_flush_seconds=3600))
    server = uvicorn.Server(uvicorn.Config(app, port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started, "the server")
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    gated.gate.clear()
    answers: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: answers.append(_answer(url)))
    sender.start()
    _wait(gated.entered.is_set, "the request to reach the model")
    server.should_exit = True  # what uvicorn's SIGTERM handler does
    gated.gate.set()
    sender.join(60)
    thread.join(60)
    assert [a.status_code for a in answers] == [200]
    assert not thread.is_alive()
    ids = answers[0].json()["ids"]
    assert read_inference_log(ws, ids)["prediction_id"].tolist() == ids  # flushed at shutdown


def _answer(url: str) -> httpx.Response:
    return httpx.post(f"{url}/predict", json=toy_frame(1, 0).to_dict(orient="records"), timeout=60)


@pytest.mark.slow
def test_several_workers_share_the_port_and_the_metrics(ws: Workspace) -> None:
    server = start_server_process(ws, f"{MODEL}@production", timeout=300, args=["--workers", "2"])
    with server:
        ids = [pid for seed in range(6) for pid in _post(server.url, 1, 100 + seed)]
        text = httpx.get(f"{server.url}/metrics", timeout=30).text
        server.stop()
        assert server.process.returncode == 0  # the parent: every worker shut down cleanly
    assert read_inference_log(ws, ids)["prediction_id"].tolist() == ids
    line = next(x for x in text.splitlines() if x.startswith("mlcycle_predictions_total{"))
    assert float(line.split()[-1]) == 6  # summed over both workers


def test_a_column_sent_as_numbers_and_as_text_keeps_both(tmp_path: Path) -> None:
    """A string column trained on numbers may arrive as 1 or as "1": both rows are logged
    (one part per schema) and read back, where the flush used to fail and lose them."""
    folder = tmp_path / "log"
    writer = LogWriter(folder, flush_seconds=0)
    for i, season in enumerate([1, "1"]):
        inputs = pd.DataFrame({"season": pd.Series([season], dtype=object)})
        batch = Batch(inputs, [f"r{i}-0"], [(f"r{i}", "primary", 1)], ("m", 1), np.zeros(1), None)
        writer.append("m", batch)
    assert len(writer.flush()) == 2
    found = find_rows(folder, ["r0-0", "r1-0"]).set_index("prediction_id")["season"]
    assert sorted(found.index) == ["r0-0", "r1-0"]
    assert str(found["r0-0"]) == str(found["r1-0"]) == "1"


def test_matrix_batches_flush_as_one_table_in_order(tmp_path: Path) -> None:
    """Many small batches of numeric rows (one request per model call) are merged into
    one part with each row's own values, ids, timestamp and probabilities; a frame
    batch of the same model joins the same part."""
    folder = tmp_path / "log"
    writer = LogWriter(folder, flush_seconds=0)
    names = ("a", "b")
    for i in range(5):
        values = np.array([[i, 10.0 * i], [i + 0.5, np.nan]])
        proba = np.array([[0.25, 0.75], [0.5, 0.5]]) + i / 100
        requests = [(f"r{i}", "primary", 2)]
        batch = Batch(Matrix(values, names), [f"r{i}-0", f"r{i}-1"], requests, ("m", 1),
                      np.array([1, 0]), proba, timestamp=1000.0 + i)  # fmt: skip
        writer.append("m", batch)
    frame = pd.DataFrame({"a": [7.0], "b": [8.0]})
    writer.append("m", Batch(frame, ["f-0"], [("f", "shadow", 1)], ("m", 1), np.array([1]),
                             np.array([[0.1, 0.9]]), timestamp=2000.0))  # fmt: skip
    assert len(writer.flush()) == 1
    rows = find_rows(folder, [f"r{i}-{j}" for i in range(5) for j in (0, 1)] + ["f-0"])
    rows = rows.set_index("prediction_id")
    assert rows.loc["r3-0", "a"] == 3 and rows.loc["r3-0", "b"] == 30
    assert rows.loc["r3-1", "a"] == 3.5 and np.isnan(rows.loc["r3-1", "b"])
    assert rows.loc["r3-1", "timestamp"] == 1003.0 and rows.loc["r4-0", "timestamp"] == 1004.0
    assert list(rows.loc["r2-0", "proba"]) == pytest.approx([0.27, 0.77])
    assert rows.loc["r2-1", "prediction"] == 0 and rows.loc["r2-1", "request_id"] == "r2"
    assert rows.loc["f-0", "role"] == "shadow" and rows.loc["f-0", "a"] == 7.0


def test_a_full_buffer_wakes_the_flusher_instead_of_writing_on_the_callers_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcycle.serving import _log_store

    monkeypatch.setattr(_log_store, "BUFFER_ROWS", 10)
    writers: list[str] = []
    real = LogWriter._write

    def write(self: LogWriter, model: str, group: list[Batch]) -> list[Path]:
        writers.append(threading.current_thread().name)
        return real(self, model, group)

    monkeypatch.setattr(LogWriter, "_write", write)
    writer = LogWriter(tmp_path / "log", flush_seconds=60)  # the interval never comes
    writer.start()
    values = Matrix(np.zeros((10, 1)), ("a",))
    writer.append("m", Batch(values, [f"r-{i}" for i in range(10)], [("r", "primary", 10)],
                             ("m", 1), np.zeros(10), None))  # fmt: skip
    deadline = time.monotonic() + 10
    while not writers and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writers == ["log-flush"]
    assert len(find_rows(tmp_path / "log", ["r-0", "r-9"])) == 2
    values = Matrix(np.zeros((20, 1)), ("a",))  # twice the buffer at once: the caller writes
    writer.append("m", Batch(values, [f"s-{i}" for i in range(20)], [("s", "primary", 20)],
                             ("m", 1), np.zeros(20), None))  # fmt: skip
    assert writers[-1] == threading.current_thread().name
    writer.close()
