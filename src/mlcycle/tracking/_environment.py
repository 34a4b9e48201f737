"""What a run records about where it ran: git commit, Python and package versions."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("mlcycle", "numpy", "pandas", "scikit-learn", "optuna", "skops")


def git_commit(folder: Path) -> str | None:
    """Return the HEAD commit of the git checkout holding `folder`, or None."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None


def environment() -> dict[str, str]:
    """Return the Python version and the versions of the packages that matter."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
