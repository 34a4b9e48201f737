"""Several server worker processes sharing one listening socket (`--workers N`).

The parent binds the socket, then forks N workers before any model is
loaded, thread started or database connection used, so each worker builds
its own app (model, batcher, inference log writer) and the kernel spreads
connections over them. SIGTERM/SIGINT to the parent are passed on; each
worker then shuts down gracefully (uvicorn stops accepting, finishes the
requests in flight, the app flushes its inference log).

Prometheus samples are shared through `PROMETHEUS_MULTIPROC_DIR` (set here
to a fresh folder) so `/metrics` on any worker reports all of them.
Fork-based, hence POSIX only.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType


def _share_metrics(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    from prometheus_client import values

    # prometheus_client picks its value class at import time; pick again now
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def _fork(run: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            run()
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            os._exit(code)
    return pid


def run_workers(count: int, run: Callable[[], None], metrics_dir: Path) -> int:
    """Run `run` in `count` forked workers until all exit; return the worst exit code.

    Args:
        count: the number of worker processes (>= 2).
        run: builds and serves one worker's app (blocking).
        metrics_dir: a folder for the workers' shared Prometheus samples (emptied).
    """
    _share_metrics(metrics_dir)
    pids = {_fork(run) for _ in range(count)}

    def forward(signum: int, _: FrameType | None) -> None:
        for pid in pids:
            os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    worst = 0
    from prometheus_client import multiprocess

    while pids:
        pid, status = os.wait()
        pids.discard(pid)
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
        code = os.waitstatus_to_exitcode(status)
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown: that is a clean exit
        worst = max(worst, 0 if code in (-signal.SIGTERM, -signal.SIGINT) else abs(code))
    return worst
