"""Data versioning and pipeline caching: DVC and mlcycle side by side, same data, one run.

Measures wall time of whole CLI commands (start-up included, as a user
sees them), the median of `--repeat` runs, page cache warm, and their CPU
time (user + system), which other work on the machine moves less:

1. add one file of `--big-mib` MiB (default 1024), with copies and with links;
2. add a folder of `--files` files of 256 KiB (default 2,000), copies and links;
3. status with nothing changed;
4. change one file of the folder and re-add it;
5. a no-op run of a 10-stage pipeline (`dvc repro` vs `mlcycle run`);
and the raw read + BLAKE3 rate of the same bytes in this process (the limit).

Usage: python benchmarks/data_versioning.py [--big-mib 1024] [--files 2000] [--repeat 3]
    [--mlcycle-init] [--no-warm-memory]
Needs `dvc` (`pip install dvc`) and `mlcycle` installed. Set `BENCH_DIR` to a
folder on the disk to measure (default: the system temp folder).

Each timed `dvc add` runs in a folder prepared by `dvc init`; each `mlcycle data add`
by default in a folder holding only `mlcycle.yaml`, so its time includes creating
`.mlcycle/` and the metadata database. `--mlcycle-init` creates those first (untimed,
with `mlcycle data list`), which is the closer match to `dvc init`.

Both tools run by their real entry points: the script next to this Python
(`Path(sys.executable).parent / name`) when there is one, else the first on PATH. A
pyenv shim on PATH is a bash script that costs ~75 ms per call; the header prints the
paths used.

Runs of the two tools alternate (repeat 1: DVC then mlcycle, repeat 2: mlcycle then DVC
...), and each timed add starts after `sync`, so neither tool meets the other's
write-back, and a slow spell of a shared machine falls on both. Two costs of this VM
are kept out of the adds, as neither is the tools' own work nor is found on a laptop:

- The hypervisor backs guest memory on first touch, and the guest reports freed memory
  back to it (virtio-balloon free page reporting), so it must be backed again. A
  page-cache page not backed cost either tool ~8 us per 4 KiB here (perf: 75% of
  `mlcycle data add` in `copy_folio_from_iter_atomic`; +1.2 s of CPU for the 500 MiB
  of the 2,000 files, for either tool). The header prints whether reporting is on
  (`/sys/module/page_reporting/parameters/page_reporting_order`; an order above 10
  turns it off). With reporting off, the script first touches the free memory once
  (`--no-warm-memory` skips that); with it on, that would not last, so it does not.
- ext4 without a journal (this VM's disk) skips recently deleted inodes when it
  allocates one, and checks each in the buffer cache (`recently_deleted` in
  fs/ext4/ialloc.c; 60 s, or 360 s while the inode table block is dirty). After the
  thousands of files a repeat deletes, creating a file cost ~300 us instead of ~10 us.
  So the folder workspaces are deleted only at the end (this needs ~3 GiB of disk per
  repeat).

Both tools run with bytecode caching on (`PYTHONDONTWRITEBYTECODE` is dropped from
their environment): with it set, an uninstalled mlcycle recompiles every module on
every call, which an installed package never does.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

import blake3

KIB = 1024
MIB = 1024 * KIB
TOOLS = ("dvc", "mlcycle")
LINKS = {"copy": (["copy"], "copy"), "links": (["reflink", "hardlink", "copy"], "reflink,hardlink")}


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@cache
def resolve(name: str) -> str:
    """The real entry point of the command `name`: next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name) or name


Times = tuple[float, float]  # (wall seconds, CPU seconds: user + system of the command)


def timed(args: list[str], cwd: Path) -> Times:
    """Run a command (`args[0]` by :func:`resolve`) in `cwd`; return wall and CPU seconds.

    Fails loudly. CPU time (of the command and the processes it waited for) moves less than
    wall time when other work shares the machine.
    """
    args = [resolve(args[0]), *args[1:]]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def sh(args: list[str], cwd: Path) -> float:
    """Run a command in `cwd`; return its wall time in seconds; fail loudly."""
    return timed(args, cwd)[0]


def medians(runs: list[Times]) -> Times:
    """Median wall and median CPU time of `runs`."""
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for _ in range(size // (64 * MIB)):
            f.write(os.urandom(64 * MIB))
        f.write(os.urandom(size % (64 * MIB)))


def make_folder(path: Path, files: int) -> None:
    for i in range(files):
        write_random(path / f"part-{i // 100:03d}" / f"f{i:05d}.bin", 256 * KIB)


def warm(path: Path) -> None:
    """Read every byte once so both tools start with the page cache warm."""
    for p in [path] if path.is_file() else sorted(path.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                while f.read(16 * MIB):
                    pass


def init_dvc(ws: Path, link: str) -> None:
    ws.mkdir(parents=True)
    sh(["dvc", "init", "--no-scm", "-q"], ws)
    sh(["dvc", "config", "cache.type", link], ws)
    sh(["dvc", "config", "core.analytics", "false"], ws)


MLCYCLE_INIT = False  # --mlcycle-init: create `.mlcycle/` and its database before timing


def init_mlcycle(ws: Path, links: list[str]) -> None:
    ws.mkdir(parents=True)
    (ws / "mlcycle.yaml").write_text(f"cache:\n  link: [{', '.join(links)}]\n")
    if MLCYCLE_INIT:
        sh(["mlcycle", "data", "list"], ws)


def fresh(root: Path, name: str, data: Path, tool: str, mode: str) -> Path:
    """A new workspace for `tool` holding a copy of `data` (copied outside the timing)."""
    ws = root / f"{tool}-{mode}-{name}-{time.monotonic_ns()}"
    mlc_links, dvc_link = LINKS[mode]
    init_dvc(ws, dvc_link) if tool == "dvc" else init_mlcycle(ws, mlc_links)
    target = ws / data.name
    shutil.copytree(data, target) if data.is_dir() else shutil.copyfile(data, target)
    warm(target)
    return ws


def add_cmd(tool: str, name: str) -> list[str]:
    return ["dvc", "add", "-q", name] if tool == "dvc" else ["mlcycle", "data", "add", name]


def time_add(root: Path, data: Path, mode: str, repeat: int) -> tuple[Times, Times]:
    """Median (wall, CPU) of adding `data` with DVC and with mlcycle, runs alternating.

    Each add starts in a new workspace after `sync`. A file's workspaces are deleted
    as they are done with; a folder's stay until the script ends (see the module doc).
    """
    times: dict[str, list[Times]] = {tool: [] for tool in TOOLS}
    for i in range(repeat):
        for tool in TOOLS if i % 2 == 0 else TOOLS[::-1]:
            ws = fresh(root, data.name, data, tool, mode)
            os.sync()
            times[tool].append(timed(add_cmd(tool, data.name), ws))
            if data.is_file():
                _rm_readonly(ws)
    return medians(times["dvc"]), medians(times["mlcycle"])


def _rm_readonly(ws: Path) -> None:
    subprocess.run(["chmod", "-R", "u+w", str(ws)], check=False)
    shutil.rmtree(ws, ignore_errors=True)


def time_status_and_readd(root: Path, data: Path, tool: str, repeat: int) -> tuple[Times, Times]:
    ws = fresh(root, data.name, data, tool, "copy")
    sh(add_cmd(tool, data.name), ws)
    status = ["dvc", "status"] if tool == "dvc" else ["mlcycle", "data", "status"]
    sh(status, ws)  # first call warms both tools' own caches
    status_time = medians([timed(status, ws) for _ in range(repeat)])
    readd = []
    for i in range(repeat):
        victim = next((ws / data.name).rglob("*.bin"))
        victim.write_bytes(os.urandom(256 * KIB) + bytes([i]))
        readd.append(timed(add_cmd(tool, data.name), ws))
    shutil.rmtree(ws, ignore_errors=True)
    return status_time, medians(readd)


STAGE_CMD = 'python -c "import shutil,sys; shutil.copyfile(sys.argv[1], sys.argv[2])" {i} {o}'


def pipeline_ws(root: Path, tool: str, steps: int) -> Path:
    ws = root / f"{tool}-pipeline"
    init_dvc(ws, "copy") if tool == "dvc" else init_mlcycle(ws, ["copy"])
    (ws / "s0.txt").write_text("seed\n")
    lines = ["stages:"]
    for i in range(steps):
        src, out = f"s{i}.txt", f"s{i + 1}.txt"
        lines += [
            f"  step{i}:",
            f"    cmd: {STAGE_CMD.format(i=src, o=out)!r}",
            f"    deps: [{src}]",
            f"    outs: [{out}]",
        ]
    text = "\n".join(lines) + "\n"
    target = ws / ("dvc.yaml" if tool == "dvc" else "mlcycle.yaml")
    mode = "w" if tool == "dvc" else "a"
    with open(target, mode) as f:
        f.write(text)
    return ws


def time_noop_run(root: Path, tool: str, steps: int, repeat: int) -> Times:
    ws = pipeline_ws(root, tool, steps)
    cmd = ["dvc", "repro", "-q"] if tool == "dvc" else ["mlcycle", "run"]
    sh(cmd, ws)  # runs all stages once
    sh(cmd, ws)
    return medians([timed(cmd, ws) for _ in range(repeat)])


def touch_free_memory(keep_gib: float = 2.0) -> None:
    """Write once to all free memory but `keep_gib` GiB, then free it (Linux only).

    On a VM whose hypervisor backs guest memory on first touch, this moves that cost
    out of the timed commands: the page cache then reuses memory already backed.
    """
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) for line in f}
    except OSError:
        return
    gib = max(0, int(info["MemFree"] / MIB - keep_gib))
    import numpy as np

    start = time.perf_counter()
    chunks = [np.ones(1 << 30, dtype=np.uint8) for _ in range(gib)]
    del chunks
    print(f"# touched {gib} GiB of free memory once first: {time.perf_counter() - start:.1f} s")


def reporting_order() -> int | None:
    """The order from which freed memory goes back to the hypervisor (above 10: none),
    or None on a machine without free page reporting."""
    try:
        return int(Path("/sys/module/page_reporting/parameters/page_reporting_order").read_text())
    except (OSError, ValueError):
        return None


def reports_freed_memory() -> bool:
    """Whether this (virtual) machine hands freed memory back to its hypervisor."""
    order = reporting_order()
    return order is not None and order <= 10


def page_reporting() -> str:
    """The header's words for :func:`reporting_order`."""
    order = reporting_order()
    if order is None:
        return "no free page reporting"
    return f"free page reporting {'on' if reports_freed_memory() else 'off'} (order {order})"


def raw_rate(path: Path) -> tuple[float, float]:
    """Seconds to read `path` once and to BLAKE3 it (multithreaded, mmap), warm cache."""
    start = time.perf_counter()
    warm(path)
    read = time.perf_counter() - start
    start = time.perf_counter()
    blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(str(path)).hexdigest()
    return read, time.perf_counter() - start


def row(label: str, dvc: Times, mlc: Times) -> None:
    print(
        f"| {label} | {dvc[0]:.3f} | {mlc[0]:.3f} | {dvc[0] / mlc[0]:.1f}x "
        f"| {dvc[1]:.3f} | {mlc[1]:.3f} | {dvc[1] / mlc[1]:.1f}x |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument(
        "--mlcycle-init",
        action="store_true",
        help="create mlcycle's workspace database before each timed add, as dvc init does",
    )
    parser.add_argument(
        "--no-warm-memory",
        action="store_true",
        help="do not touch the free memory first (see the module doc)",
    )
    args = parser.parse_args()
    global MLCYCLE_INIT
    MLCYCLE_INIT = args.mlcycle_init
    version = subprocess.run([resolve("dvc"), "--version"], capture_output=True, text=True)
    dvc_version = version.stdout
    print(f"# {platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"DVC {dvc_version.strip()}, {time.strftime('%Y-%m-%d')}, {page_reporting()}"
          + (", mlcycle workspace initialized first" if args.mlcycle_init else ""))  # fmt: skip
    print(f"# commands: {', '.join(resolve(t) for t in TOOLS)}")
    if reports_freed_memory():  # touched memory would go back to the hypervisor at once
        print("# free memory not touched first: freed memory goes back to the hypervisor")
    elif not args.no_warm_memory:
        touch_free_memory()
    root = Path(tempfile.mkdtemp(prefix="bench-dv-", dir=os.environ.get("BENCH_DIR")))
    try:
        big, folder = root / "data" / "big.bin", root / "data" / "folder"
        write_random(big, args.big_mib * MIB)
        make_folder(folder, args.files)
        read_s, hash_s = raw_rate(big)
        print(f"raw read {args.big_mib} MiB: {read_s:.3f} s; BLAKE3 (threads, mmap): "
              f"{hash_s:.3f} s = {args.big_mib / hash_s:,.0f} MiB/s\n")  # fmt: skip
        print(
            "| operation | DVC s | mlcycle s | speed-up | DVC CPU s | mlcycle CPU s | CPU ratio |\n"
            "|---|---|---|---|---|---|---|"
        )
        cases = [
            (big, "1 file of", args.big_mib, "MiB"),
            (folder, f"{args.files} files of", 256, "KiB"),
        ]
        for data, what, size, unit in cases:
            for mode in ("copy", "links"):
                label = f"add {what} {size} {unit}, {mode}"
                row(label, *time_add(root, data, mode, args.repeat))
        (dvc_status, dvc_readd), (mlc_status, mlc_readd) = (
            time_status_and_readd(root, folder, t, args.repeat) for t in TOOLS
        )
        row("status, nothing changed", dvc_status, mlc_status)
        row("change 1 file of the folder, re-add", dvc_readd, mlc_readd)
        noop = (time_noop_run(root, t, args.steps, args.repeat) for t in TOOLS)
        row(f"no-op run of {args.steps} stages", *noop)
    finally:
        _rm_readonly(root)


if __name__ == "__main__":
    main()
