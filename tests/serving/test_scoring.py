"""Batch scoring: streamed, validated per batch, atomic, bounded memory, and on Ray."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlcycle.core import InputError, SignatureError
from mlcycle.data import BIKE_SHARING_CSV
from mlcycle.models import LoadedModel, Signature, load_package, save_model, store_package
from mlcycle.pipeline import make_executor
from mlcycle.serving._scoring import score_file, score_parallel
from mlcycle.store import ObjectStore

FEATURES = ["hr", "temp", "atemp", "hum", "windspeed", "season", "weekday", "weathersit"]


@pytest.fixture(scope="module")
def bike() -> pd.DataFrame:
    return pd.read_csv(BIKE_SHARING_CSV)


@pytest.fixture(scope="module")
def package(bike: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LightGBM classifier of busy hours (cnt > 150), packaged."""
    import lightgbm as lgb

    X, busy = bike[FEATURES], (bike["cnt"] > 150).map({True: "busy", False: "quiet"})
    model = lgb.LGBMClassifier(n_estimators=10, random_state=0, verbose=-1).fit(X, busy)
    signature = Signature.infer(X, busy, classes=list(model.classes_))
    folder = tmp_path_factory.mktemp("scoring") / "pkg"
    return save_model(model, folder, task="classification", signature=signature)


@pytest.fixture(scope="module")
def model(package: Path) -> LoadedModel:
    return load_package(package)


@pytest.fixture(scope="module")
def parquet(bike: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("input") / "bike.parquet"
    pq.write_table(pa.Table.from_pandas(bike, preserve_index=False), path, row_group_size=2500)
    return path


def assert_scored(out: Path, bike: pd.DataFrame, model: LoadedModel) -> None:
    scored = pd.read_parquet(out)
    assert list(scored.columns) == ["instant", "dteday", "prediction", "proba_busy", "proba_quiet"]
    assert scored["instant"].tolist() == bike["instant"].tolist()
    assert scored["prediction"].tolist() == model.predict(bike).tolist()
    np.testing.assert_allclose(scored[["proba_busy", "proba_quiet"]], model.predict_proba(bike))


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_scores_every_row_in_batches(
    bike: pd.DataFrame, model: LoadedModel, parquet: Path, tmp_path: Path, suffix: str
) -> None:
    source = parquet if suffix == "parquet" else BIKE_SHARING_CSV
    seen: list[int] = []
    result = score_file(
        model, source, tmp_path / "scores.parquet", keep=["instant", "dteday"], batch_rows=1000,
        on_batch=seen.append,
    )  # fmt: skip
    assert result.rows == sum(seen) == len(bike)
    assert seen == [1000] * 17 + [379]  # one output row group per batch: streamed
    assert pq.ParquetFile(result.output).num_row_groups == 18
    assert_scored(result.output, bike, model)


def test_bad_value_names_column_and_row_and_writes_nothing(
    bike: pd.DataFrame, model: LoadedModel, tmp_path: Path
) -> None:
    rows = bike.head(3000).astype({"temp": object})
    rows.loc[2503, "temp"] = "warm"
    rows.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(SignatureError) as err:
        score_file(model, tmp_path / "in.csv", tmp_path / "out.parquet", batch_rows=500)
    message = "got 'warm' in row 3 (of the batch starting at input row 2500)"
    assert str(err.value) == f"Column 'temp' must be float64; {message}"
    assert list(tmp_path.iterdir()) == [tmp_path / "in.csv"]  # no output, no temp file


def test_missing_columns_and_files_are_input_errors(
    model: LoadedModel, parquet: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match=r"Column 'order_id' \(kept\) is not in the input file"):
        score_file(model, parquet, tmp_path / "out.parquet", keep=["order_id"])
    with pytest.raises(InputError, match="does not exist"):
        score_file(model, tmp_path / "nope.parquet", tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_memory_stays_bounded_by_the_batch(tmp_path: Path) -> None:
    """100,000 rows x 8 columns (6.4 MB as float64) scored in batches of 1,024 rows."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    names = [f"x{i}" for i in range(8)]
    frame = pd.DataFrame(rng.normal(size=(100_000, 8)), columns=names)
    y = frame.sum(axis=1).rename("y")
    small = frame.head(1000)
    fitted = LinearRegression().fit(small, y.head(1000))
    loaded = load_package(
        save_model(fitted, tmp_path / "pkg", task="regression", signature=Signature.infer(small, y))
    )
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "big.parquet", row_group_size=1024)
    data_bytes = frame.memory_usage(index=False).sum()
    del frame, y
    pool = pa.proxy_memory_pool(pa.default_memory_pool())  # counts Arrow's own allocations
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    tracemalloc.start()  # counts Python's and NumPy's
    try:
        result = score_file(
            loaded, tmp_path / "big.parquet", tmp_path / "out.parquet", batch_rows=1024
        )
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(previous)
    assert result.rows == 100_000
    peak = python_peak + pool.max_memory()
    assert peak < data_bytes / 5, (
        f"peak {peak / 2**20:.1f} MiB for {data_bytes / 2**20:.1f} MiB of data"
    )


@pytest.mark.slow
def test_ray_scores_row_groups_in_parallel(
    ray_cluster: str,
    bike: pd.DataFrame,
    package: Path,
    model: LoadedModel,
    parquet: Path,
    tmp_path: Path,
) -> None:
    objects = ObjectStore(str(tmp_path / "objects"))
    package_id = store_package(objects, package)
    executor = make_executor("ray", address=ray_cluster)
    try:
        result = score_parallel(
            executor, objects, package_id, parquet, tmp_path / "scores.parquet",
            keep=["instant", "dteday"], batch_rows=1000, tasks=3,
        )  # fmt: skip
    finally:
        executor.shutdown()
    assert (result.rows, result.parts) == (len(bike), 3)
    assert_scored(result.output, bike, model)
    assert [p.name for p in tmp_path.iterdir()] == ["objects", "scores.parquet"]  # parts removed
