"""The pending dataset-version journal: `data add` writes it, `Workspace.db` applies it.

Crash cases use real processes killed with SIGKILL at the worst moments:
mid-record, inside the applying transaction, and between its commit and the
deletion of the record files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mlcycle.core import Config, parse_config
from mlcycle.data import list_dataset_versions
from mlcycle.data._datasets import NewVersion, record_version
from mlcycle.store import Workspace, _journal

OID = "ab" * 32


def _wanted(dataset: str, oid: str = OID, size: int = 3) -> dict[str, Any]:
    return {"dataset": dataset, "object_id": oid, "source": f"/x/{dataset}", "size": size,
            "rows": None, "schema": {}, "kind": "file", "files": 1}  # fmt: skip


def _oid(i: int) -> str:
    return f"{i:064x}".replace("0", "c")


def _rows(ws: Workspace) -> list[tuple[int, str, int, str]]:
    return sorted((v.id, v.dataset, v.version, v.object_id) for v in list_dataset_versions(ws))


def _config() -> Config:
    return parse_config({})


def test_reserved_versions_appear_when_the_database_opens(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", _config())
    [a1] = _journal.reserve(ws.state_dir, [_wanted("a")])
    [a2, b1] = _journal.reserve(ws.state_dir, [_wanted("a", _oid(2)), _wanted("b")])
    assert [(v["id"], v["version"]) for v in (a1, a2, b1)] == [(1, 1), (2, 2), (3, 1)]
    assert "mlcycle.db" not in os.listdir(ws.state_dir), "reserving never opens the database"
    assert _journal.reserve(ws.state_dir, [_wanted("a")]) == [a1], "same bytes, same version"

    assert _rows(ws) == [(1, "a", 1, OID), (2, "a", 2, _oid(2)), (3, "b", 1, OID)]
    assert _journal.pending_files(ws.state_dir) == []
    [v] = [v for v in list_dataset_versions(ws) if v.id == 1]
    assert v.created_at == a1["created_at"] and v.source == "/x/a"
    ws.close()


def test_reservations_continue_the_database_and_the_database_continues_them(
    tmp_path: Path,
) -> None:
    ws = Workspace(tmp_path / "ws", _config())
    first = record_version(ws, NewVersion("a", OID, "/x/a", 3, None, {}))
    [second] = _journal.reserve(ws.state_dir, [_wanted("a", _oid(2))])
    assert (first.id, first.version, second["id"], second["version"]) == (1, 1, 2, 2)
    # A writer through the database (the Python API, the server) applies the journal first.
    third = record_version(ws, NewVersion("a", _oid(3), "/x/a", 3, None, {}))
    assert (third.id, third.version) == (3, 3)
    assert _rows(ws) == [(1, "a", 1, OID), (2, "a", 2, _oid(2)), (3, "a", 3, _oid(3))]
    ws.close()


def test_an_open_database_sees_versions_added_after_it_opened(tmp_path: Path) -> None:
    server = Workspace(tmp_path / "ws", _config())
    assert list_dataset_versions(server) == []
    cli = Workspace(tmp_path / "ws", _config())
    _journal.reserve(cli.state_dir, [_wanted("late")])
    assert [v.dataset for v in list_dataset_versions(server)] == ["late"]
    server.close()


def test_a_record_already_applied_is_applied_once(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", _config())
    _journal.reserve(ws.state_dir, [_wanted("a"), _wanted("b")])
    [record] = _journal.pending_files(ws.state_dir)
    saved = record.read_bytes()
    assert _journal.apply_pending(ws.state_dir, ws.db) == 2
    record.write_bytes(saved)  # as if the applier died after its commit, before the unlink
    assert _journal.apply_pending(ws.state_dir, ws.db) == 0
    assert _journal.pending_files(ws.state_dir) == []
    assert _rows(ws) == [(1, "a", 1, OID), (2, "b", 1, OID)]
    ws.close()


def test_a_torn_record_is_set_aside_and_temp_files_are_ignored(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", _config())
    _journal.reserve(ws.state_dir, [_wanted("good")])
    pending = ws.state_dir / _journal.PENDING_DIR
    torn = pending / "000000000009-torn.json"
    torn.write_text('{"versions": [{"id": 9, "dataset": "to')
    (pending / ".000000000010-x.json.tmp").write_text('{"versions": []}')
    assert _rows(ws) == [(1, "good", 1, OID)]
    assert sorted(os.listdir(pending)) == [".000000000010-x.json.tmp", torn.name + ".bad"]
    ws.close()


def test_a_writer_outside_the_lock_cannot_make_a_record_collide(tmp_path: Path) -> None:
    """A row written without the lock (an older mlcycle) takes the reserved number: renumber."""
    ws = Workspace(tmp_path / "ws", _config())
    _journal.reserve(ws.state_dir, [_wanted("a")])
    pending = _journal.pending_files(ws.state_dir)
    hidden = [(p, p.read_bytes()) for p in pending]
    for p in pending:
        p.unlink()
    record_version(ws, NewVersion("a", _oid(7), "/x/a", 3, None, {}))  # takes id 1, v1
    for p, data in hidden:
        p.write_bytes(data)
    assert _rows(ws) == [(1, "a", 1, _oid(7)), (2, "a", 2, OID)]
    ws.close()


def test_an_old_database_schema_is_migrated_then_used(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from mlcycle.data import add_paths
    from mlcycle.store import alembic_config

    root = tmp_path / "ws"
    (root / ".mlcycle").mkdir(parents=True)
    engine = create_engine(f"sqlite:///{root / '.mlcycle' / 'mlcycle.db'}")
    command.upgrade(alembic_config(engine), "0001")  # dataset_versions without kind, files
    engine.dispose()
    ws = Workspace(root, _config())
    (root / "f.txt").write_text("x")
    [v] = add_paths(ws, ["f.txt"])
    assert (v.id, v.version, v.kind) == (1, 1, "file")
    assert _rows(ws) == [(1, "f.txt", 1, v.object_id)]
    ws.close()


# --- processes: concurrency and SIGKILL ------------------------------------------------------


def _child(code: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    prelude = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from mlcycle.store import _journal\n"
        f"state = Path({str(state_dir)!r})\n"
        "def wanted(d, oid):\n"
        "    return {'dataset': d, 'object_id': oid, 'source': d, 'size': 1, 'rows': None,\n"
        "            'schema': {}, 'kind': 'file', 'files': 1}\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_concurrent_adds_lose_nothing(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", _config())
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mlcycle.store import _journal\n"
        "state, k = Path(sys.argv[1]), int(sys.argv[2])\n"
        "for i in range(10):\n"
        "    oid = format(k * 100 + i + 1, '064x')\n"
        "    w = {'dataset': 'same' if i % 2 else f'own{k}', 'object_id': oid, 'source': 's',\n"
        "         'size': 1, 'rows': None, 'schema': {}, 'kind': 'file', 'files': 1}\n"
        "    _journal.reserve(state, [w])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(ws.state_dir), str(k)]) for k in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    rows = _rows(ws)
    assert len(rows) == 40
    assert [r[0] for r in rows] == list(range(1, 41)), "ids are unique and dense"
    same = sorted(r[2] for r in rows if r[1] == "same")
    assert same == list(range(1, 21)), "one dataset written by four processes: v1..v20"
    ws.close()


def test_a_writer_killed_mid_record_leaves_no_record(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", _config())
    child = _child(
        """
        real = os.write
        def dying(fd, data):
            real(fd, bytes(data)[:20])
            os.kill(os.getpid(), signal.SIGKILL)
        os.write = dying
        _journal.reserve(state, [wanted('a', 'ab' * 32)])
        """,
        ws.state_dir,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert _journal.pending_files(ws.state_dir) == []
    assert _rows(ws) == []
    [v] = _journal.reserve(ws.state_dir, [_wanted("a")])  # the lock died with its holder
    assert (v["id"], v["version"]) == (1, 1)
    ws.close()


@pytest.mark.parametrize("when", ["before_commit", "after_commit"])
def test_an_applier_killed_mid_apply_applies_each_record_once(tmp_path: Path, when: str) -> None:
    ws = Workspace(tmp_path / "ws", _config())
    _ = ws.db  # tables exist; the child only applies
    ws.close()
    _journal.reserve(ws.state_dir, [_wanted("a"), _wanted("b")])
    hook = (
        "from sqlalchemy import event\n"
        "from sqlalchemy.orm import Session\n"
        "@event.listens_for(Session, 'before_commit')\n"
        "def die(session): os.kill(os.getpid(), signal.SIGKILL)\n"
        if when == "before_commit"
        else "Path.unlink = lambda self, missing_ok=False: os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    child = _child(
        hook + "from mlcycle.core import parse_config\n"
        "from mlcycle.store import Workspace\n"
        "ws = Workspace(state.parent, parse_config({}))\n"
        "_journal.apply_pending(ws.state_dir, ws.db)\n",
        ws.state_dir,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(_journal.pending_files(ws.state_dir)) == 1, "the record outlives the applier"
    again = Workspace(tmp_path / "ws", _config())
    assert _rows(again) == [(1, "a", 1, OID), (2, "b", 1, OID)]
    assert _journal.pending_files(again.state_dir) == []
    again.close()


def test_record_files_are_json_with_every_field(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", _config())
    _journal.reserve(ws.state_dir, [_wanted("a")])
    [record] = _journal.pending_files(ws.state_dir)
    [v] = json.loads(record.read_text())["versions"]
    assert tuple(v) == _journal.FIELDS
    ws.close()


def test_add_applies_a_long_journal_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcycle.data import _versioning, add_paths

    monkeypatch.setattr(_versioning, "JOURNAL_APPLY_FROM", 2)
    ws = Workspace(tmp_path / "ws", _config())
    for name in ("a.txt", "b.txt"):
        (ws.root / name).write_text(name)
    add_paths(ws, ["a.txt"])
    assert len(_journal.pending_files(ws.state_dir)) == 1 and "db" not in ws.__dict__
    add_paths(ws, ["b.txt"])
    assert _journal.pending_files(ws.state_dir) == []
    assert [r[1:3] for r in _rows(ws)] == [("a.txt", 1), ("b.txt", 1)]
    ws.close()
