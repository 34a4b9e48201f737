"""The fast path's config reader: a trivial `mlcycle.yaml` means what the full parser says;
anything else is left to the full parser (None)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from mlcycle.core import ConfigError, load_config
from mlcycle.data._fast import light_config

TRIVIAL = [
    "",
    "\n\n",
    "# only a comment\n",
    "cache:\n  link: [copy]\n",
    "cache:\n  link: [reflink, hardlink, copy]\n",
    "cache:\n  link: [symlink]\n",
    "cache:\n  link:\n  - copy\n  - hardlink\n",
    "cache:\n    link:\n      - hardlink\n",
    "# x\ncache:\n  # y\n  link: [hardlink]\n\n",
    "cache:\r\n  link: [copy]\r\n",
]
NOT_TRIVIAL = [
    "model_name: m\n",
    "cache:\n  link: [copy]\nmodel_name: m\n",
    "cache:\n  link: [copy]\n  other: 1\n",
    "cache:\n  link: []\n",
    "cache:\n  link: [bogus]\n",
    "cache:\nlink: [copy]\n",
    "cache:\n\tlink: [copy]\n",
    "cache:\n  link:\n    - copy\n      - hardlink\n",
    "cache:\n  link:\n",
    "cache:\n",
    "cache: {link: [copy]}\n",
    "cache:\n  link: [copy, ]\n",
    "cache:\n  link: ['copy']\n",
    "cache:  # c\n  link: [copy]\n",
    "---\ncache:\n  link: [copy]\n",
    "objects_url: s3://bucket/x\n",
]


@pytest.mark.parametrize("text", TRIVIAL)
def test_a_trivial_config_reads_as_the_full_parser_reads_it(tmp_path: Path, text: str) -> None:
    (tmp_path / "mlcycle.yaml").write_bytes(text.encode())
    light = light_config(tmp_path)
    assert light is not None
    assert light.cache.link == load_config(tmp_path).cache.link
    assert light.db_url is None and light.objects_url is None


@pytest.mark.parametrize("text", NOT_TRIVIAL)
def test_anything_else_is_left_to_the_full_parser(tmp_path: Path, text: str) -> None:
    (tmp_path / "mlcycle.yaml").write_text(text)
    assert light_config(tmp_path) is None
    with contextlib.suppress(ConfigError):
        load_config(tmp_path)  # valid or not: the full path decides, and says why


def test_no_file_is_the_defaults(tmp_path: Path) -> None:
    light = light_config(tmp_path)
    assert light is not None and light.cache.link == load_config(tmp_path).cache.link


@pytest.mark.parametrize("var", ["MLCYCLE_DB_URL", "MLCYCLE_OBJECTS_URL", "MLCYCLE_WEBHOOK_URL"])
def test_overrides_go_to_the_full_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    monkeypatch.setenv(var, "x")
    assert light_config(tmp_path) is None
