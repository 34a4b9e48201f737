"""What a run records about where it ran: git commit, Python and package versions.

Both are asked for at every run start, so both are cheap: package versions
are read once per process, and the commit is read from `.git` files
(HEAD, loose refs, packed-refs) instead of running `git`, which costs
10 ms a call; `git rev-parse` remains the fallback for layouts this does
not know.
"""

from __future__ import annotations

import functools
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("mlcycle", "numpy", "pandas", "scikit-learn", "optuna", "skops")
_SHA = re.compile(r"[0-9a-f]{40}")


def _git_dir(folder: Path) -> Path | None:
    for parent in (folder, *folder.parents):
        dot_git = parent / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # a worktree or submodule: "gitdir: PATH"
            text = dot_git.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                return (parent / text.removeprefix("gitdir:").strip()).resolve()
    return None


def _read_head(git_dir: Path) -> str | None:
    """Return HEAD's commit from the files of `git_dir`, or None if the layout is unusual."""
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    if _SHA.fullmatch(head):
        return head  # detached
    if not head.startswith("ref: "):
        return None
    ref = head.removeprefix("ref: ")
    common = git_dir
    if (git_dir / "commondir").is_file():  # worktrees keep refs in the main repository
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            sha = loose.read_text(encoding="utf-8").strip()
            return sha if _SHA.fullmatch(sha) else None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and _SHA.fullmatch(sha):
                return sha
    return None  # an unborn branch (no commit yet), or a layout git itself must read


def git_commit(folder: Path) -> str | None:
    """Return the HEAD commit (40 hex) of the git checkout holding `folder`, or None."""
    git_dir = _git_dir(folder.resolve())
    if git_dir is None:
        return None
    try:
        sha = _read_head(git_dir)
    except OSError:
        sha = None
    if sha is not None:
        return sha
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and _SHA.fullmatch(sha) else None


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    found = [("python", platform.python_version())]
    for name in PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def environment() -> dict[str, str]:
    """Return the Python version and the versions of the packages that matter (a new dict)."""
    return dict(_versions())
