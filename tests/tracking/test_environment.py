"""Where a run ran: the git commit read from `.git` files, matching what git itself says."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlcycle.tracking import environment, git_commit


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    return repo


def test_unborn_branch_has_no_commit(tmp_path: Path) -> None:
    assert git_commit(_repo(tmp_path) / "sub") is None


def test_loose_packed_and_detached_heads_match_git(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "a.txt").write_text("a")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-q", "-m", "first")
    assert git_commit(repo / "sub") == _git(repo, "rev-parse", "HEAD")  # loose ref
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert git_commit(repo) == _git(repo, "rev-parse", "HEAD")  # packed-refs
    first = _git(repo, "rev-parse", "HEAD")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    _git(repo, "checkout", "-q", first)
    assert git_commit(repo) == first  # detached


def test_worktree_reads_the_main_repository_refs(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    _git(repo, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "wt"))
    _git(tmp_path / "wt", "commit", "-q", "--allow-empty", "-m", "on feature")
    assert git_commit(tmp_path / "wt") == _git(tmp_path / "wt", "rev-parse", "HEAD")
    assert git_commit(tmp_path / "wt") != git_commit(repo)


def test_environment_is_a_fresh_dict_each_time() -> None:
    env = environment()
    env["python"] = "changed"
    assert environment()["python"] != "changed"
