"""Data remotes: push and pull to a local folder and to S3 (the moto server), interruptions."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcycle.core import (
    ConfigError,
    DataError,
    IntegrityError,
    NotFound,
    RemoteError,
    hash_file,
    parse_config,
)
from mlcycle.data import BIKE_SHARING_CSV
from mlcycle.data._manifest import Manifest, ManifestEntry
from mlcycle.data._pointers import Pointer, pointer_path, read_pointer, write_pointer
from mlcycle.data._remote import find_pointer_files, listing, pull, push, remote_url
from mlcycle.store import Workspace

FOLDER_FILES = {
    "a.txt": b"alpha\n",
    "b.txt": b"beta\n",
    "same-as-a.txt": b"alpha\n",  # same bytes, one object
    "empty.bin": b"",
    "nested/deep/c.bin": bytes(range(256)) * 40,
}


def track(ws: Workspace, path: Path) -> Pointer:
    """Store `path` (file or folder) in the cache and write its pointer file."""
    if path.is_file():
        pointer = Pointer(path.name, "file", ws.objects.put_file(path), path.stat().st_size, 1)
    else:
        files = sorted(p for p in path.rglob("*") if p.is_file())
        entries = [
            ManifestEntry(p.relative_to(path).as_posix(), ws.objects.put_file(p), p.stat().st_size)
            for p in files
        ]
        manifest = Manifest.of(entries)
        oid = ws.objects.put_bytes(manifest.to_bytes())
        pointer = Pointer(path.name, "dir", oid, manifest.size, manifest.files)
    write_pointer(pointer_path(path), pointer)
    return pointer


def make_workspace(root: Path, remote_url_: str, n_extra: int = 0) -> Workspace:
    """A workspace with the bike CSV, a folder of files and `n_extra` small files, tracked."""
    config = parse_config({"remotes": {"store": remote_url_}, "default_remote": "store"})
    ws = Workspace(root, config)
    shutil.copyfile(BIKE_SHARING_CSV, root / "hour.csv")
    for rel, data in FOLDER_FILES.items():
        (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "images" / rel).write_bytes(data)
    track(ws, root / "hour.csv")
    track(ws, root / "images")
    for i in range(n_extra):
        (root / "many").mkdir(exist_ok=True)
        (root / "many" / f"f{i}.txt").write_text(f"file number {i}\n" * (i + 1))
    if n_extra:
        track(ws, root / "many")
    return ws


def snapshot_files(root: Path) -> dict[str, bytes]:
    """Every data file (not pointers, not `.mlcycle/`) by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".mlcycle" not in p.parts and not p.name.endswith(".mlc")
    }


def wipe_cache_and_data(ws: Workspace) -> Workspace:
    """Delete the local cache and the tracked data, keep the pointers; reopen."""
    shutil.rmtree(ws.state_dir / "objects")
    (ws.root / "hour.csv").unlink()
    shutil.rmtree(ws.root / "images")
    if (ws.root / "many").exists():
        shutil.rmtree(ws.root / "many")
    ws.close()
    return Workspace(ws.root, ws.config)


def assert_only_complete_objects(root: Path) -> int:
    """Every file at a final path `xx/yyyy` hashes to its name; return how many there are."""
    count = 0
    for p in root.glob("??/*"):
        assert p.is_file() and not p.name.startswith(".")
        assert hash_file(p) == p.parent.name + p.name, f"partial object at {p}"
        count += 1
    return count


def n_objects(ws: Workspace) -> int:
    return len(listing(ws.objects))


# ---- local folder remote --------------------------------------------------------------


def test_push_pull_local_folder_round_trip(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    ws = make_workspace(tmp_path / "ws", str(remote))
    before = snapshot_files(ws.root)
    total = n_objects(ws)  # csv + manifest + 4 distinct folder files
    assert total == 6

    first = push(ws)
    assert (first.sent, first.skipped) == (total, 0)
    assert first.bytes == sum(p.stat().st_size for p in remote.glob("??/*"))
    assert assert_only_complete_objects(remote) == total
    assert not list((remote / "tmp").iterdir())

    again = push(ws)
    assert (again.sent, again.skipped, again.bytes) == (0, total, 0)

    ws = wipe_cache_and_data(ws)
    pulled = pull(ws)
    assert (pulled.sent, pulled.skipped) == (total, 0)
    assert snapshot_files(ws.root) == before
    assert pull(ws).sent == 0
    ws.close()


def test_push_sends_only_changed_objects(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", str(tmp_path / "remote"))
    push(ws)
    (ws.root / "images" / "b.txt").write_bytes(b"beta, second edition\n")
    track(ws, ws.root / "images")
    result = push(ws)
    assert result.sent == 2  # the new file and the new manifest
    manifest = ws.objects.get_bytes(read_pointer(ws.root / "images.mlc").oid)
    assert result.bytes == len(b"beta, second edition\n") + len(manifest)
    ws.close()


def test_targets_limit_what_moves(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", str(tmp_path / "remote"))
    result = push(ws, [ws.root / "hour.csv"])
    assert (result.sent, result.bytes) == (1, BIKE_SHARING_CSV.stat().st_size)
    assert find_pointer_files(ws, ["images.mlc"]) == [ws.root / "images.mlc"]
    with pytest.raises(DataError, match="not tracked"):
        push(ws, [ws.root / "untracked.csv"])
    ws.close()


def test_pull_of_an_object_the_remote_lacks_names_it(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", str(tmp_path / "remote"))
    push(ws, [ws.root / "hour.csv"])
    ws = wipe_cache_and_data(ws)
    with pytest.raises(NotFound, match="neither in the cache nor on remote"):
        pull(ws)
    ws.close()


def test_push_of_an_object_missing_from_the_cache_names_it(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", str(tmp_path / "remote"))
    oid = read_pointer(ws.root / "hour.csv.mlc").oid
    Path(ws.objects._path(oid)).unlink()
    with pytest.raises(NotFound, match=f"not in the cache \\(first {oid}\\)"):
        push(ws)
    assert not list((tmp_path / "remote").glob("??/*"))  # checked before anything moved
    ws.close()


def test_remote_names_resolve_or_fail_clearly() -> None:
    one = parse_config({"remotes": {"a": "/x"}})
    assert remote_url(one) == "/x"
    two = parse_config({"remotes": {"a": "/x", "b": "/y"}, "default_remote": "b"})
    assert remote_url(two) == "/y"
    assert remote_url(two, "a") == "/x"
    with pytest.raises(ConfigError, match="Unknown remote 'c'"):
        remote_url(two, "c")
    with pytest.raises(ConfigError, match="No data remote configured"):
        remote_url(parse_config({}))
    with pytest.raises(ConfigError, match="no default_remote"):
        remote_url(parse_config({"remotes": {"a": "/x", "b": "/y"}}))


def test_pull_refuses_a_corrupt_remote_object(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    ws = make_workspace(tmp_path / "ws", str(remote))
    push(ws)
    oid = read_pointer(ws.root / "hour.csv.mlc").oid
    ws = wipe_cache_and_data(ws)
    bad = remote / oid[:2] / oid[2:]
    bad.write_bytes(bad.read_bytes()[:-1] + b"X")  # same size, other bytes
    with pytest.raises(IntegrityError, match=oid):
        pull(ws, [ws.root / "hour.csv"])
    assert not ws.objects.exists(oid)
    assert assert_only_complete_objects(ws.state_dir / "objects") == 0
    ws.close()


# ---- interruptions ----------------------------------------------------------------------


def test_push_resumes_after_the_remote_fails_midway(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    ws = make_workspace(tmp_path / "ws", str(remote), n_extra=40)
    total = n_objects(ws)

    def break_tmp_folder(done: int, _total: int) -> None:
        if done == 5:  # the remote's temp folder becomes a file: every upload fails
            (remote / "tmp").rename(tmp_path / "old-tmp")
            (remote / "tmp").write_bytes(b"in the way")

    with pytest.raises(RemoteError, match=f"Remote {remote}: uploading object"):
        push(ws, jobs=2, progress=break_tmp_folder)
    arrived = assert_only_complete_objects(remote)
    assert 5 <= arrived < total

    (remote / "tmp").unlink()  # the remote is mended
    result = push(ws, jobs=2)
    assert (result.sent, result.skipped) == (total - arrived, arrived)
    assert assert_only_complete_objects(remote) == total
    ws.close()


def test_push_to_a_remote_that_disappears(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    ws = make_workspace(tmp_path / "ws", str(remote), n_extra=40)
    total = n_objects(ws)

    def vanish(done: int, _total: int) -> None:
        if done == 3:
            remote.rename(tmp_path / "remote-gone")

    with pytest.raises(RemoteError, match="rerun to resume"):
        push(ws, jobs=2, progress=vanish)
    if remote.exists():  # an upload in flight may have recreated a prefix folder
        assert_only_complete_objects(remote)
    assert_only_complete_objects(tmp_path / "remote-gone")

    result = push(ws)  # the remote is back (empty): the rerun sends what it lacks
    assert result.sent + result.skipped == total
    assert assert_only_complete_objects(remote) == total
    ws.close()


def test_pull_interrupted_leaves_no_partial_object_and_resumes(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    ws = make_workspace(tmp_path / "ws", str(remote), n_extra=40)
    before = snapshot_files(ws.root)
    push(ws)
    ws = wipe_cache_and_data(ws)

    def vanish(done: int, _total: int) -> None:
        if done == 5:
            remote.rename(tmp_path / "away")

    with pytest.raises(RemoteError, match="rerun to resume"):
        pull(ws, jobs=2, progress=vanish)
    arrived = assert_only_complete_objects(ws.state_dir / "objects")
    assert arrived >= 5
    assert not list((ws.state_dir / "objects" / "tmp").iterdir())

    (tmp_path / "away").rename(remote)
    result = pull(ws)
    assert result.skipped == arrived
    assert snapshot_files(ws.root) == before
    ws.close()


# ---- S3 (the moto server, as s3fs's own tests use) ------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVERS: dict[int, Any] = {}  # port -> the running moto server (a test restarts it)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free 127.0.0.1 port; AWS_* variables point s3fs at it."""
    from moto.server import ThreadedMotoServer
    from s3fs import S3FileSystem

    port = _free_port()
    SERVERS[port] = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    SERVERS[port].start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_MAX_ATTEMPTS": "2",  # an outage test should not wait out botocore's backoff
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    S3FileSystem.clear_instance_cache()  # an instance made earlier would keep its endpoint
    yield endpoint
    S3FileSystem.clear_instance_cache()
    SERVERS.pop(port).stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_push_pull_s3_round_trip(tmp_path: Path, s3_endpoint: str) -> None:
    import fsspec

    url = f"s3://mlcycle-{uuid.uuid4().hex[:8]}/team/data"
    ws = make_workspace(tmp_path / "ws", url)
    before = snapshot_files(ws.root)
    total = n_objects(ws)

    first = push(ws, jobs=4)
    assert (first.sent, first.skipped) == (total, 0)
    fs, root = fsspec.core.url_to_fs(url)
    keys = [k for k in fs.find(root) if "/tmp/" not in k]
    assert sorted(k.removeprefix(root + "/").replace("/", "") for k in keys) == sorted(
        listing(ws.objects)
    )
    assert push(ws).sent == 0

    ws = wipe_cache_and_data(ws)
    pulled = pull(ws, jobs=4)
    assert (pulled.sent, pulled.skipped) == (total, 0)
    assert snapshot_files(ws.root) == before
    ws.close()


def test_push_to_s3_survives_the_server_going_away(tmp_path: Path, s3_endpoint: str) -> None:
    from moto.server import ThreadedMotoServer

    url = f"s3://mlcycle-{uuid.uuid4().hex[:8]}/data"
    ws = make_workspace(tmp_path / "ws", url, n_extra=30)
    total = n_objects(ws)
    port = int(s3_endpoint.rsplit(":", 1)[1])
    stopped: list[bool] = []

    def outage(done: int, _total: int) -> None:
        if done == 4 and not stopped:
            SERVERS[port].stop()
            stopped.append(True)

    with pytest.raises(RemoteError, match=f"Remote {url}: uploading object"):
        push(ws, jobs=2, progress=outage)
    SERVERS[port] = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    SERVERS[port].start()  # moto keeps its buckets in this process: what arrived is there
    result = push(ws, jobs=2)
    assert result.skipped >= 4
    assert result.sent + result.skipped == total
    assert push(ws).sent == 0
    ws.close()
