"""The top-level public API: pinned names, a light import, the facade working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mlcycle


def test_public_names_are_pinned() -> None:
    assert sorted(mlcycle.__all__) == sorted(
        [
            "ConfigError",
            "DataError",
            "DatasetNotFound",
            "InputError",
            "IntegrityError",
            "MlcycleError",
            "ModelNotFound",
            "NotFound",
            "RunNotFound",
            "ServingError",
            "SignatureError",
            "Workspace",
            "__version__",
            "current_run",
            "get_run",
            "load_model",
            "open_workspace",
            "pipeline",
            "search_runs",
            "start_run",
            "step",
        ]
    )
    for name in mlcycle.__all__:
        assert getattr(mlcycle, name) is not None


def test_import_is_light() -> None:
    heavy = ("fastapi", "sqlalchemy", "pandas", "sklearn", "scipy", "optuna", "matplotlib")
    code = f"import sys, mlcycle; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_step_and_pipeline_load_lazily_and_light() -> None:
    heavy = ("sqlalchemy", "pandas", "sklearn", "optuna", "mlcycle.pipeline")
    code = (
        "import sys, mlcycle\n"
        f"before = [m for m in {heavy!r} if m in sys.modules]\n"
        "@mlcycle.step\ndef one() -> int:\n    return 1\n"
        "@mlcycle.pipeline\ndef flow() -> None:\n    one()\n"
        f"after = [m for m in {heavy[:-1]!r} if m in sys.modules]\n"
        "print(before, after, type(one).__name__, type(flow).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] [] Step Pipeline"


def test_pipeline_is_both_subpackage_and_decorator() -> None:
    import mlcycle.pipeline._step  # importing a submodule rebinds mlcycle.pipeline

    assert callable(mlcycle.pipeline)
    assert mlcycle.pipeline.step is mlcycle.step

    @mlcycle.pipeline(name="named")
    def flow() -> None:
        pass

    assert flow.name == "named"


def test_cli_help_imports_no_heavy_layer() -> None:
    code = (
        "import sys\nfrom mlcycle.cli import app\n"
        "print([m for m in ('fastapi', 'sqlalchemy', 'pandas', 'sklearn') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_facade_tracks_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCYCLE_WORKSPACE", str(tmp_path))
    with mlcycle.start_run(experiment="demo", name="first") as run:
        run.log_params({"alpha": 0.1})
        run.log_metric("mae", 31.2, step=0)
    from mlcycle.tracking import get_run

    ws = mlcycle.open_workspace()
    record = get_run(ws, run.id)
    assert record.status == "FINISHED"
    assert record.params == {"alpha": "0.1"}
    assert record.metrics == {"mae": 31.2}
    ws.close()


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError):
        _ = mlcycle.nope  # type: ignore[attr-defined]
