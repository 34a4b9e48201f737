"""The inference log's files: append-only Parquet parts, buffered and flushed in the background.

Layout: `.mlcycle/inference_log/<model>/<first>-<last>-<pid>-<token>-<seq>.parquet`
where `<first>`/`<last>` are the part's earliest and latest timestamps in
microseconds since the epoch (readers skip parts outside a time window
without opening them), and pid + a random token per writer keep the
names of several server workers (`--workers N`) apart. A part is written
to a dot-file, fsync'ed, then renamed, so a reader never sees half a
part (dot-files are ignored by readers). Every flush writes one part per
model: the log rotates with time by construction.

Columns: `prediction_id`, `request_id`, `timestamp` (float64 seconds since
the epoch), `model_name`, `model_version` (int64), `role`, the model's
input columns, `prediction` and, for classifiers, `proba` (list<double>).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from mlcycle.core import new_id, now
from mlcycle.serving._tensors import Inputs, Matrix

log = logging.getLogger("mlcycle.serving")

BUFFER_ROWS = 100_000  # flush early past this many rows, bounding the writer's memory


def log_dir(root: Path) -> Path:
    """The inference log folder of a workspace state folder (`.mlcycle`)."""
    return root / "inference_log"


def model_folder(folder: Path, model_name: str) -> Path:
    """The folder of `model_name`'s parts inside the inference log folder `folder`."""
    return folder / quote(model_name, safe="")


@dataclass(frozen=True)
class Batch:
    """One model call's log rows, kept as the arrays they came in until flushed.

    Attributes:
        inputs: the validated input columns, shape (n_rows, n_inputs): a frame
            or a :class:`Matrix`.
        ids: n_rows prediction ids.
        requests: (request id, role, rows) of each request, in row order
            (their rows sum to n_rows).
        model: (model name, version).
        predictions: shape (n_rows,).
        probabilities: shape (n_rows, n_classes), or None.
        timestamp: when the model answered, seconds since the epoch.
    """

    inputs: Inputs
    ids: Sequence[str]
    requests: Sequence[tuple[str, str, int]]
    model: tuple[str, int]
    predictions: np.ndarray
    probabilities: np.ndarray | None
    timestamp: float = field(default_factory=now)

    @property
    def rows(self) -> int:
        """The number of rows."""
        return len(self.ids)

    def table(self) -> pa.Table:
        """The rows as an Arrow table (see :func:`log_table`)."""
        outputs = (self.predictions, self.probabilities)
        return log_table(self.inputs, self.ids, self.requests, self.model, outputs, self.timestamp)


def log_table(
    inputs: Inputs,
    ids: Sequence[str],
    requests: Sequence[tuple[str, str, int]],
    model: tuple[str, int],
    outputs: tuple[np.ndarray, np.ndarray | None],
    timestamp: float | np.ndarray,
) -> pa.Table:
    """Log rows for `inputs` (n_rows, n_inputs) and their outputs.

    Args:
        inputs: the validated input columns (a frame or a :class:`Matrix`).
        ids: n_rows prediction ids.
        requests: (request id, role, rows) of each request, in row order.
        model: (model name, version).
        outputs: predictions, shape (n_rows,), and probabilities, shape
            (n_rows, n_classes) or None.
        timestamp: seconds since the epoch, for every row, or one per row (n_rows,).
    """
    predictions, probabilities = outputs
    n = len(inputs)
    name, version = model
    rows = np.array([count for _, _, count in requests], np.int64)
    if isinstance(inputs, Matrix):
        columns = inputs.values.T  # one contiguous row per column: Arrow takes them without a copy
        table = pa.table(dict(zip(inputs.names, np.ascontiguousarray(columns), strict=True)))
    else:
        table = pa.Table.from_pandas(inputs, preserve_index=False)
    head = {
        "prediction_id": pa.array(ids, pa.string()),
        "request_id": _per_row([r for r, _, _ in requests], rows),
        "timestamp": pa.array(np.broadcast_to(np.asarray(timestamp, np.float64), n)),
        "model_name": pa.repeat(pa.scalar(name, pa.string()), n),
        "model_version": pa.array(np.full(n, version, np.int64)),
        "role": _per_row([role for _, role, _ in requests], rows),
    }
    for i, (column, values) in enumerate(head.items()):
        table = table.add_column(i, column, values)
    table = table.append_column("prediction", _column(np.asarray(predictions)))
    if probabilities is not None:
        values = np.asarray(probabilities, np.float64)
        offsets = np.arange(0, values.size + 1, max(values.shape[1], 1), dtype=np.int32)
        proba = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.ravel()))
        table = table.append_column("proba", proba)
    return table


def _per_row(values: list[str], rows: np.ndarray) -> pa.Array:
    """`values[i]` repeated `rows[i]` times, as an Arrow string array (built in C++: a
    flush of 100,000 rows made them one Python object at a time while holding the GIL)."""
    index = pa.array(np.repeat(np.arange(len(values), dtype=np.int32), rows))
    return pa.DictionaryArray.from_arrays(index, pa.array(values, pa.string())).dictionary_decode()


def _column(values: np.ndarray) -> pa.Array:
    # object arrays (class labels as strings, mixed) go through Python objects
    return pa.array(values.tolist() if values.dtype == object else values)


def write_part(folder: Path, table: pa.Table, name: str) -> Path:
    """Write `table` as one part of model folder `folder`, atomically and durably."""
    folder.mkdir(parents=True, exist_ok=True)
    stamps = table.column("timestamp")
    first, last = (int(pc.min_max(stamps)[k].as_py() * 1e6) for k in ("min", "max"))
    path = folder / f"{first:016d}-{last:016d}-{name}.parquet"
    tmp = folder / f".{path.name}.tmp"
    with open(tmp, "wb") as out:
        pq.write_table(table, out, compression="zstd")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)  # make the rename itself durable
    finally:
        os.close(fd)
    return path


_writers: weakref.WeakSet[LogWriter] = weakref.WeakSet()  # live writers of this process


def flush_local(folder: Path) -> None:
    """Flush this process's writers into `folder`, so a read here sees every answered row."""
    for writer in list(_writers):
        if writer.folder == folder:
            writer.flush()


class LogWriter:
    """Buffers log rows in memory and writes them as Parquet parts.

    Thread-safe. With `flush_seconds > 0`, a daemon thread flushes every
    `flush_seconds`, so a crash loses at most the rows acknowledged in the
    last `flush_seconds` (plus the write time of one part). With 0, callers
    flush before they reply. Memory is bounded by twice :data:`BUFFER_ROWS` rows.

    Args:
        folder: the inference log folder (see :func:`log_dir`).
        flush_seconds: the flush interval in seconds (0 = flush on demand).
    """

    def __init__(self, folder: Path, flush_seconds: float) -> None:
        self.folder, self.flush_seconds = folder, flush_seconds
        self._tables: list[tuple[str, Batch]] = []
        self._rows = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # keeps parts in order
        self._name = f"{os.getpid()}-{new_id()[:8]}"
        self._seq = 0
        self._stop = threading.Event()
        self._due = threading.Event()  # set: flush now, without waiting for the interval
        self._thread: threading.Thread | None = None
        _writers.add(self)

    def append(self, model_name: str, batch: Batch) -> None:
        """Buffer `batch`'s rows of `model_name`.

        The batch becomes a table only when flushed, off the request path:
        past :data:`BUFFER_ROWS` rows the flusher thread is woken (a flush on
        the caller's thread, the model's, stalled every request waiting for
        it); past twice that, or with no flusher, the caller flushes itself.
        """
        with self._lock:
            self._tables.append((model_name, batch))
            self._rows += batch.rows
            rows = self._rows
        if rows >= 2 * BUFFER_ROWS or (rows >= BUFFER_ROWS and self._thread is None):
            self.flush()  # no flusher, or it fell behind: hold the caller back
        elif rows >= BUFFER_ROWS:
            self._due.set()

    def flush(self) -> list[Path]:
        """Write the buffered rows (one part per model); return the parts written.

        Raises:
            OSError: if a part cannot be written (its rows stay buffered).
        """
        with self._write_lock:
            with self._lock:
                tables, self._tables, self._rows = self._tables, [], 0
            by_model: dict[str, list[Batch]] = {}
            for model, table in tables:
                by_model.setdefault(model, []).append(table)
            groups = list(by_model.items())
            written = []
            for i, (model, group) in enumerate(groups):
                try:
                    written.extend(self._write(model, group))
                except OSError:
                    self._rebuffer(groups[i:])
                    raise
            return written

    def _rebuffer(self, groups: list[tuple[str, list[Batch]]]) -> None:
        with self._lock:
            self._tables[:0] = [(model, t) for model, group in groups for t in group]
            self._rows += sum(b.rows for _, group in groups for b in group)

    def _write(self, model: str, group: list[Batch]) -> list[Path]:
        tables = _tables(group)
        try:
            merged = [pa.concat_tables(tables, promote_options="permissive")]
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            # Requests may send one column as numbers and as text (a string column
            # trained on numbers): one part per schema keeps every value as it came.
            by_schema: dict[pa.Schema, list[pa.Table]] = {}
            for table in tables:
                by_schema.setdefault(table.schema, []).append(table)
            merged = [pa.concat_tables(same) for same in by_schema.values()]
        return [self._write_part(model, table) for table in merged]

    def _write_part(self, model: str, table: pa.Table) -> Path:
        self._seq += 1
        return write_part(model_folder(self.folder, model), table, f"{self._name}-{self._seq:06d}")

    def start(self) -> None:
        """Start the background flusher (if `flush_seconds > 0`)."""
        if self.flush_seconds > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True, name="log-flush")
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._due.wait(self.flush_seconds)
            self._due.clear()
            if self._stop.is_set():
                return  # close() writes the rest
            try:
                self.flush()
            except OSError as err:  # the rows stay buffered for the next flush
                log.error("inference log flush failed: %s", err)
            except Exception:  # a bug must not stop later flushes: log it, keep the thread
                log.exception("inference log flush failed; this flush's rows are lost")

    def close(self) -> None:
        """Stop the flusher and write what is left."""
        self._stop.set()
        self._due.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()


def _tables(batches: list[Batch]) -> list[pa.Table]:
    """The batches as Arrow tables: batches of matrices with the same columns and outputs
    become one table, built from concatenated arrays.

    A server answering one request per model call buffers thousands of small
    batches a second; one Arrow table each cost the flusher milliseconds of
    GIL a flush, which showed as the event loop's tail latency.
    """
    runs: dict[Any, list[tuple[Matrix, Batch]]] = {}
    tables = []
    for batch in batches:
        if isinstance(batch.inputs, Matrix):
            proba = batch.probabilities
            shape = None if proba is None else (proba.shape[1], proba.dtype)
            key = (batch.inputs.names, batch.model, batch.predictions.dtype, shape)
            runs.setdefault(key, []).append((batch.inputs, batch))
        else:
            tables.append(batch.table())
    for run in runs.values():
        first = run[0][1]
        inputs = Matrix(np.concatenate([m.values for m, _ in run]), run[0][0].names)
        probas = [b.probabilities for _, b in run if b.probabilities is not None]
        outputs = (np.concatenate([b.predictions for _, b in run]),
                   np.concatenate(probas) if probas else None)  # fmt: skip
        ids = [i for _, b in run for i in b.ids]
        requests = [r for _, b in run for r in b.requests]
        stamps = np.repeat([b.timestamp for _, b in run], [b.rows for _, b in run])
        tables.append(log_table(inputs, ids, requests, first.model, outputs, stamps))
    return tables


def _model_folders(folder: Path, model_name: str | None) -> list[Path]:
    if model_name is not None:
        one = model_folder(folder, model_name)
        return [one] if one.is_dir() else []
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _part_in_window(path: Path, start: float | None, end: float | None) -> bool:
    first, last = (int(x) / 1e6 for x in path.name.split("-", 2)[:2])
    return (start is None or last >= start) and (end is None or first < end)


def parts(
    folder: Path, model_name: str | None, start: float | None, end: float | None
) -> Iterator[Path]:
    """The parts of `model_name` (or every model) with rows in [start, end), oldest first."""
    for model in _model_folders(folder, model_name):
        found = sorted(model.glob("[0-9]*.parquet"))
        yield from (p for p in found if _part_in_window(p, start, end))


def find_rows(folder: Path, ids: Sequence[str], columns: list[str] | None = None) -> pd.DataFrame:
    """The rows whose `prediction_id` is in `ids`, from every model's parts (any order)."""
    wanted = pa.array(list(ids), pa.string())
    frames: list[pd.DataFrame] = []
    for model in _model_folders(folder, None):
        files = [str(p) for p in sorted(model.glob("[0-9]*.parquet"))]
        if not files:
            continue
        try:
            frames.append(_matching(ds.dataset(files, format="parquet"), wanted, columns))
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # parts of different schemas (see _write)
            frames += [_matching(ds.dataset(f, format="parquet"), wanted, columns) for f in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _matching(dataset: ds.Dataset, wanted: pa.Array, columns: list[str] | None) -> pd.DataFrame:
    cols = columns if columns is None else [c for c in columns if c in dataset.schema.names]
    table = dataset.to_table(columns=cols, filter=ds.field("prediction_id").isin(wanted))
    frame: pd.DataFrame = table.to_pandas()
    return frame


def scan_parts(
    folder: Path,
    model_name: str | None,
    start: float | None,
    end: float | None,
    columns: Sequence[str] | None,
) -> Iterator[pd.DataFrame]:
    """Yield the rows in [start, end) one part at a time (see `scan_inference_log`)."""
    for path in parts(folder, model_name, start, end):
        table = pq.read_table(path)
        mask: Any = None
        if start is not None:
            mask = pc.greater_equal(table.column("timestamp"), start)
        if end is not None:
            below = pc.less(table.column("timestamp"), end)
            mask = below if mask is None else pc.and_(mask, below)
        if mask is not None:
            table = table.filter(mask)
        if columns is not None:
            table = table.select([c for c in columns if c in table.column_names])
        if table.num_rows:
            yield table.to_pandas()
