"""Batch scoring: stream a Parquet or CSV file through a model into a Parquet file.

Memory is bounded by one batch: at most `batch_rows` rows of the columns
the model reads (its inputs plus `keep` columns) are in memory at once,
with their predictions; for Parquet, a row group larger than `batch_rows`
is decoded whole, so the bound is max(batch_rows, row group rows) x
columns. CSV is read in blocks of :data:`CSV_BLOCK_BYTES`, cut into
batches of `batch_rows`. Each batch is
validated against the model's signature before it is scored; an error
names the column and the row (counted from the first data row, 0-based).

The output holds the `keep` columns as read, `prediction`, and for
classifiers one `proba_<class>` column per class. It is written to a
temporary file next to the destination and renamed into place, so a
failed run leaves nothing behind.

With an executor (`ray`, or `local` processes), a Parquet input is split
by row groups into parts scored in parallel tasks; each task fetches the
model package from the object store, writes its part, and the parts are
joined in order into the output (again atomically). Input, output and the
object store must be reachable from every worker.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlcycle.core import InputError, SignatureError, new_id
from mlcycle.models import LoadedModel, fetch_package, load_package
from mlcycle.store import ObjectStore

if TYPE_CHECKING:
    import pyarrow as pa

    from mlcycle.pipeline import Executor

#: Rows per batch by default (64 Ki rows of 20 float columns: about 10 MiB).
BATCH_ROWS = 65_536
#: Bytes per block when reading CSV.
CSV_BLOCK_BYTES = 8 * 2**20
PREDICTION = "prediction"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ScoringResult:
    """What a scoring run wrote.

    Attributes:
        output: the Parquet file.
        rows: rows scored.
        parts: how many tasks scored them (1 without an executor).
    """

    output: Path
    rows: int
    parts: int


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _columns(model: LoadedModel, keep: Sequence[str], available: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys([*keep, *model.meta.signature.input_names]))
    missing = [c for c in wanted if c not in available]
    if missing:
        role = "kept" if missing[0] in keep else "model input"
        raise InputError(f"Column '{missing[0]}' ({role}) is not in the input file")
    return wanted


def _batches(
    path: Path, model: LoadedModel, keep: Sequence[str], batch_rows: int, row_groups: Any = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of the needed columns of `path` (row groups `row_groups`, or all)."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if not path.is_file():
        raise InputError(f"input file {path} does not exist")
    if _is_parquet(path):
        reader = pq.ParquetFile(path)
        columns = _columns(model, keep, reader.schema_arrow.names)
        yield from reader.iter_batches(batch_rows, row_groups=row_groups, columns=columns)
        return
    if path.suffix.lower() != ".csv":
        raise InputError(f"input {path} must be .parquet or .csv")
    header = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 16)).schema.names
    stream = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        convert_options=pcsv.ConvertOptions(include_columns=_columns(model, keep, header)),
    )
    for block in stream:  # zero-copy slices: a block holds as many rows as fit its bytes
        for start in range(0, block.num_rows, batch_rows):
            yield block.slice(start, batch_rows)


def _scored(
    model: LoadedModel, batch: pa.RecordBatch, keep: Sequence[str], offset: int
) -> pa.Table:
    """The output rows of one input batch: kept columns, prediction, probabilities."""
    import pyarrow as pa

    frame = batch.to_pandas()
    try:
        inputs = model.meta.signature.validate(frame)
    except SignatureError as err:
        raise SignatureError(f"{err} (of the batch starting at input row {offset})") from None
    columns: dict[str, Any] = {c: batch.column(c) for c in keep}
    if not len(frame):  # frameworks refuse empty inputs; the schema still needs the columns
        columns[PREDICTION] = pa.array([], type=pa.from_numpy_dtype(np.float64))
        return pa.table(columns)
    columns[PREDICTION], proba = model.outputs(inputs)
    if proba is not None:
        for i, label in enumerate(model.meta.signature.classes or ()):
            columns[f"proba_{label}"] = proba[:, i]
    return pa.table(columns)


def _write(tables: Iterator[pa.Table], output: Path) -> int:
    """Write `tables` (one row group each) to `output` atomically; return the row count."""
    import pyarrow.parquet as pq

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{new_id()}.tmp")
    rows, writer = 0, None
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is None:
            raise InputError("the input has no rows and no columns to score")
        writer.close()
        os.replace(tmp, output)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return rows


def _score_stream(
    model: LoadedModel,
    batches: Iterator[pa.RecordBatch],
    keep: Sequence[str],
    on_batch: Progress | None,
) -> Iterator[pa.Table]:
    offset = 0
    for batch in batches:
        yield _scored(model, batch, keep, offset)
        offset += batch.num_rows
        if on_batch is not None:
            on_batch(batch.num_rows)


def score_file(
    model: LoadedModel,
    input_path: Path,
    output: Path,
    *,
    keep: Sequence[str] = (),
    batch_rows: int = BATCH_ROWS,
    on_batch: Progress | None = None,
) -> ScoringResult:
    """Score every row of `input_path` (Parquet or CSV) with `model` into Parquet `output`.

    Args:
        model: a loaded model package.
        input_path: the rows to score; must hold the model's input columns.
        output: the Parquet file to write (replaced atomically).
        keep: input columns to copy to the output (ids, timestamps), in order.
        batch_rows: rows per batch: the memory bound (see the module docstring).
        on_batch: called with the row count of each batch once it is scored.

    Returns:
        The output path and the number of rows.

    Raises:
        InputError: if the input is missing, of another format, or lacks a column.
        SignatureError: if a value does not fit the model's signature.
    """
    if batch_rows < 1:
        raise InputError(f"batch_rows must be >= 1; got {batch_rows}")
    batches = _batches(Path(input_path), model, keep, batch_rows)
    rows = _write(_score_stream(model, batches, keep, on_batch), Path(output))
    return ScoringResult(Path(output), rows, 1)


def score_part(
    objects_url: str,
    package_id: str,
    input_path: str,
    row_groups: list[int],
    part: str,
    keep: list[str],
    batch_rows: int,
) -> int:
    """One task of :func:`score_parallel`: score `row_groups` of `input_path` into `part`.

    The model package is fetched from the object store into a cache folder
    of this worker's machine, so workers need no shared disk for models.
    """
    cache = Path(tempfile.gettempdir()) / "mlcycle-packages"
    model = load_package(fetch_package(ObjectStore(objects_url), package_id, cache))
    batches = _batches(Path(input_path), model, keep, batch_rows, row_groups)
    return _write(_score_stream(model, batches, keep, None), Path(part))


def _groups(path: Path, tasks: int) -> list[list[int]]:
    import pyarrow.parquet as pq

    count = pq.ParquetFile(path).num_row_groups
    return [g.tolist() for g in np.array_split(np.arange(count), min(tasks, count)) if len(g)]


def _join(parts: Sequence[Path], output: Path) -> int:
    import pyarrow.parquet as pq

    def tables() -> Iterator[pa.Table]:
        for part in parts:
            reader = pq.ParquetFile(part)
            for group in range(reader.num_row_groups):
                yield reader.read_row_group(group)

    return _write(tables(), output)


def score_parallel(
    executor: Executor,
    objects: ObjectStore,
    package_id: str,
    input_path: Path,
    output: Path,
    *,
    keep: Sequence[str] = (),
    batch_rows: int = BATCH_ROWS,
    tasks: int = 4,
    on_part: Progress | None = None,
) -> ScoringResult:
    """Score a Parquet file in parallel tasks on `executor`, one part per group of row groups.

    Args:
        executor: where the tasks run (:func:`mlcycle.pipeline.make_executor`).
        objects: the object store holding the package (reachable by the workers).
        package_id: the model package to score with.
        input_path: a Parquet file; its row groups are the unit of splitting.
        output: the Parquet file to write (replaced atomically).
        keep, batch_rows: as :func:`score_file`.
        tasks: at most this many tasks (fewer if there are fewer row groups).
        on_part: called with the row count of each finished part.

    Raises:
        InputError: if the input is not Parquet, or as :func:`score_file`.
        MlcycleError: a task's own error (e.g. SignatureError) is raised again here.
    """
    input_path, output = Path(input_path).resolve(), Path(output).resolve()
    if not _is_parquet(input_path):
        raise InputError(
            f"parallel scoring splits Parquet row groups; convert {input_path} to Parquet"
        )
    parts_dir = output.with_name(f".{output.name}.{new_id()}.parts")
    parts_dir.mkdir(parents=True)
    try:
        groups = _groups(input_path, tasks)
        parts = [parts_dir / f"part-{i:05d}.parquet" for i in range(len(groups))]
        futures = [
            executor.submit(
                score_part,
                objects.url,
                package_id,
                str(input_path),
                g,
                str(p),
                list(keep),
                batch_rows,
            )
            for g, p in zip(groups, parts, strict=True)
        ]
        for future in futures:
            rows = future.result()
            if on_part is not None:
                on_part(rows)
        return ScoringResult(output, _join(parts, output), len(parts))
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)
