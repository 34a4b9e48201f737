"""Data drift: Evidently's data drift report vs mlcycle's monitor vs bare NumPy/SciPy.

    python benchmarks/drift.py                      # 100,000 and 1,000,000 rows
    python benchmarks/drift.py --rows 100000        # one size
    python benchmarks/drift.py --streaming 100000000 --stream-columns 5

Frames: 20 numeric (float64, normal) + 5 categorical (strings, 20 categories)
columns; the current window has 4 numeric and 1 categorical column shifted.
Each (tool, size) runs in a fresh subprocess that builds the seeded frames,
then times one call; peak memory is the largest resident set sampled every
2 ms during the call minus the resident set just before it (the frames
themselves are not counted). Tools, all with their default test choice
(normalized Wasserstein for numbers, Jensen-Shannon for categories):

- evidently: ``Report([DataDriftPreset()]).run(current, reference)``;
- evidently-ks-chi2: the same with ``num_method="ks", cat_method="chisquare"``;
- mlcycle: :func:`mlcycle.monitoring.detect_drift` with ``DriftConfig()``;
- numpy-scipy: the lower bound, a plain loop over columns calling
  ``scipy.stats.wasserstein_distance / np.std`` and
  ``scipy.spatial.distance.jensenshannon`` on ``Series.value_counts``.

``--streaming N`` writes N rows (``--stream-columns`` numeric + 1 categorical)
to a Parquet file under /tmp once, then streams it through
:class:`mlcycle.monitoring.StreamingMonitor` in record batches and reports
the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

NUMERIC = [f"x{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
LABELS = np.array([f"cat{i:02d}" for i in range(20)], dtype=object)
TOOLS = ("evidently", "evidently-ks-chi2", "mlcycle", "numpy-scipy")


def frames(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded reference and current frames, shape (rows, 25) each."""
    rng = np.random.default_rng(seed)
    shares = np.linspace(1.0, 3.0, 20) / np.linspace(1.0, 3.0, 20).sum()

    def frame(shift: float) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for i, name in enumerate(NUMERIC):
            cols[name] = rng.normal(loc=shift if i < 4 else 0.0, size=rows)
        for i, name in enumerate(CATEGORICAL):
            p = shares[::-1] if shift and i == 0 else shares
            cols[name] = pd.Series(LABELS[rng.choice(20, size=rows, p=p)], dtype="str")
        return pd.DataFrame(cols)

    return frame(0.0), frame(0.5)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def measure(fn: Callable[[], Any]) -> tuple[float, int]:
    """(seconds, peak resident bytes above the start) of one call."""
    start, peak, done = _rss(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    return seconds, max(peak[0], _rss()) - start


def _evidently(ref: pd.DataFrame, cur: pd.DataFrame, **methods: str) -> Any:
    import pandas.core.dtypes.common as common

    # Evidently 0.7.23 imports a helper pandas 3 removed; it is unused on this path
    common.infer_dtype_from_object = lambda t: pd.api.types.pandas_dtype(t).type  # type: ignore[attr-defined]
    import evidently
    from evidently.presets import DataDriftPreset

    definition = evidently.DataDefinition(
        numerical_columns=NUMERIC, categorical_columns=CATEGORICAL
    )
    report = evidently.Report([DataDriftPreset(**methods)])
    return lambda: report.run(
        evidently.Dataset.from_pandas(cur, data_definition=definition),
        evidently.Dataset.from_pandas(ref, data_definition=definition),
    )


def _mlcycle(ref: pd.DataFrame, cur: pd.DataFrame) -> Any:
    import scipy.spatial.distance
    import scipy.stats  # noqa: F401  (imported before timing, as for the other tools)

    from mlcycle.core import DriftConfig
    from mlcycle.monitoring import detect_drift

    return lambda: detect_drift(
        ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, config=DriftConfig()
    )


def _bound(ref: pd.DataFrame, cur: pd.DataFrame) -> Any:
    from scipy import stats
    from scipy.spatial import distance

    def run() -> list[float]:
        out = []
        for name in NUMERIC:
            r, c = ref[name].to_numpy(), cur[name].to_numpy()
            out.append(stats.wasserstein_distance(r, c) / max(float(np.std(r)), 0.001))
        for name in CATEGORICAL:
            counts = pd.concat([ref[name].value_counts(), cur[name].value_counts()], axis=1)
            counts = counts.fillna(0).to_numpy().T
            out.append(float(distance.jensenshannon(counts[0] / len(ref), counts[1] / len(cur))))
        return out

    return run


def child(tool: str, rows: int) -> dict[str, Any]:
    """Build the frames, time one call of `tool`, return the measurement."""
    ref, cur = frames(rows)
    makers: dict[str, Callable[[], Any]] = {
        "evidently": lambda: _evidently(ref, cur),
        "evidently-ks-chi2": lambda: _evidently(ref, cur, num_method="ks", cat_method="chisquare"),
        "mlcycle": lambda: _mlcycle(ref, cur),
        "numpy-scipy": lambda: _bound(ref, cur),
    }
    call = makers[tool]()
    seconds, peak = measure(call)
    return {"tool": tool, "rows": rows, "seconds": seconds, "peak_bytes": peak}


def _run_child(*args: str) -> dict[str, Any]:
    cmd = [sys.executable, "-W", "ignore", __file__, "--child", *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def compare(sizes: list[int], tools: list[str]) -> None:
    """Run every tool on every size and print the table."""
    print("| rows | tool | seconds | peak MB | Evidently / tool time | Evidently / tool memory |")
    print("|---|---|---|---|---|---|")
    for rows in sizes:
        results = {tool: _run_child("--tool", tool, "--rows", str(rows)) for tool in tools}
        base = results.get("evidently")
        for tool, r in results.items():
            ratio_t = ratio_m = ""
            if base is not None:
                ratio_t = f"{base['seconds'] / r['seconds']:.1f}x"
                ratio_m = f"{base['peak_bytes'] / max(r['peak_bytes'], 1):.1f}x"
            mb = r["peak_bytes"] / 2**20
            print(f"| {rows:,} | {tool} | {r['seconds']:.2f} | {mb:.0f} | {ratio_t} | {ratio_m} |")


def write_log(path: Path, rows: int, columns: int, chunk: int = 1_000_000) -> None:
    """Write a seeded log once: `columns` numeric + 1 categorical column, row groups of `chunk`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    tmp = path.with_suffix(".partial")
    writer: Any = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        drift = 0.3 if start >= rows // 2 else 0.0  # the second half drifts
        table = pa.table(
            {f"x{i}": rng.normal(loc=drift if i == 0 else 0.0, size=n) for i in range(columns)}
            | {"c0": pa.DictionaryArray.from_arrays(rng.integers(0, 20, n), list(LABELS))}
        )
        writer = writer or pq.ParquetWriter(tmp, table.schema, compression="none")
        writer.write_table(table)
    writer.close()
    tmp.rename(path)


def stream(rows: int, columns: int, window_rows: int = 10_000_000) -> None:
    """Stream `rows` rows from Parquet through StreamingMonitor; print time and peak RSS."""
    import resource

    import pyarrow.parquet as pq

    from mlcycle.monitoring import StreamingMonitor

    path = Path(f"/tmp/mlcycle-drift-log-{rows}x{columns}.parquet")
    if not path.exists():
        t0 = time.perf_counter()
        write_log(path, rows, columns)
        size = path.stat().st_size / 2**30
        print(f"wrote {path} ({size:.2f} GiB) in {time.perf_counter() - t0:.0f} s")
    numeric = [f"x{i}" for i in range(columns)]
    reference = pd.DataFrame(
        {name: np.random.default_rng(2).normal(size=1_000_000) for name in numeric}
    )
    reference["c0"] = LABELS[np.random.default_rng(3).choice(20, size=1_000_000)]
    monitor = StreamingMonitor(numeric=numeric, categorical=["c0"]).fit(reference)
    del reference
    t0, seen, drifted = time.perf_counter(), 0, []
    # pre_buffer=False: with it, pyarrow 25 keeps every row group read so far (+45 MB per batch)
    for batch in pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=1_000_000):
        monitor.update(batch.to_pandas())
        seen += batch.num_rows
        if seen % window_rows == 0:
            monitor.close_window()
            drifted.append(monitor.window_result().drifted_features)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        f"{seen:,} rows x {columns + 1} columns in {seconds:.0f} s "
        f"({seen / seconds / 1e6:.1f} M rows/s); peak RSS {peak / 2**20:.0f} MiB"
    )
    print("drifted features per window of", f"{window_rows:,}", "rows:", drifted)


def main() -> None:
    """Parse the command line and run the comparison or the streaming run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--tool", action="append", choices=TOOLS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--streaming", type=int, metavar="N")
    parser.add_argument("--stream-columns", type=int, default=5)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.tool[0], args.rows[0])))
    elif args.streaming:
        stream(args.streaming, args.stream_columns)
    else:
        compare(args.rows or [100_000, 1_000_000], args.tool or list(TOOLS))


if __name__ == "__main__":
    main()
