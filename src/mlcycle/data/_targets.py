"""Where tracked paths may live, their dataset names, pointer files and `.gitignore` entries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mlcycle.core import DataError, atomic_write_text
from mlcycle.data._pointers import SUFFIX, pointer_path

if TYPE_CHECKING:
    from mlcycle.store import Workspace

#: Folders never scanned for pointer files and never tracked.
SKIPPED = frozenset({".mlcycle", ".git", ".venv", "node_modules", "__pycache__"})


def resolve_target(ws: Workspace, path: str | os.PathLike[str]) -> Path:
    """The absolute path of a tracked file or folder named on the command line.

    A relative path is taken from the current folder when that is inside
    the workspace, else from the workspace root. A pointer file's name
    (`x.csv.mlc`) stands for its target (`x.csv`).

    Raises:
        DataError: if the path is the workspace root, outside it, or inside
            `.mlcycle/` or `.git/`, naming the path.
    """
    return resolve_in(ws.root, path)


def resolve_in(root: Path, path: str | os.PathLike[str]) -> Path:
    """:func:`resolve_target` for the workspace whose resolved root folder is `root`."""
    raw = Path(path)
    cwd = Path.cwd()
    if not raw.is_absolute():
        raw = (cwd if cwd.resolve().is_relative_to(root) else root) / raw
    full = Path(os.path.realpath(Path(os.path.abspath(raw)).parent)) / raw.name
    if full.name.endswith(SUFFIX):
        full = full.with_name(full.name.removesuffix(SUFFIX))
    if not full.is_relative_to(root) or full == root:
        raise DataError(
            f"{path} is outside the workspace {root}; copy it into the workspace "
            "(or run mlcycle from the workspace that holds it) and track it there"
        )
    rel = full.relative_to(root)
    if rel.parts[0] in (".mlcycle", ".git"):
        raise DataError(f"{path} is inside {rel.parts[0]}/, which mlcycle manages; track data "
                        "outside it")  # fmt: skip
    return full


def dataset_name(ws: Workspace, target: Path) -> str:
    """The dataset name of a tracked path: its POSIX path relative to the workspace root."""
    return target.relative_to(ws.root).as_posix()


def check_not_inside_tracked(ws: Workspace, target: Path) -> None:
    """Refuse a path that is part of an already tracked folder.

    Raises:
        DataError: naming the tracked folder's pointer file.
    """
    for folder in target.parents:
        if folder == ws.root or not folder.is_relative_to(ws.root):
            return
        pointer = pointer_path(folder)
        if pointer.exists():
            raise DataError(
                f"{target} is part of the tracked folder {folder} ({pointer.name}); "
                f"add the folder again instead: mlcycle data add {dataset_name(ws, folder)}"
            )


def ignore_in_git(target: Path) -> None:
    """Add `/name` to the `.gitignore` next to `target`, once (atomic rewrite)."""
    gitignore = target.parent / ".gitignore"
    line = f"/{target.name}"
    text = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    if line in text.splitlines():
        return
    if text and not text.endswith("\n"):
        text += "\n"
    atomic_write_text(gitignore, text + line + "\n")


def _searchable(entry: os.DirEntry[str]) -> bool:
    """A folder that may hold pointer files: not skipped, not a tracked folder itself."""
    return (
        entry.is_dir(follow_symlinks=False)
        and entry.name not in SKIPPED
        and not os.path.exists(entry.path + SUFFIX)
    )


def find_pointers(root: Path) -> list[Path]:
    """Every `*.mlc` pointer file under `root`, skipping :data:`SKIPPED` folders, sorted."""
    found: list[Path] = []
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.name.endswith(SUFFIX) and entry.is_file():
                    found.append(Path(entry.path))
                elif _searchable(entry):
                    stack.append(entry.path)
    return sorted(found)
