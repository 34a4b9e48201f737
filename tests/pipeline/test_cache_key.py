"""Cache keys change iff code, params or an input changes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mlcycle.pipeline._cache_key import cache_key, code_hash
from mlcycle.pipeline._load import load_module

scalars = st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none())
params = st.dictionaries(st.text(max_size=4), scalars, max_size=3)
inputs = st.dictionaries(st.text(max_size=4), st.sampled_from(["a" * 64, "b" * 64]), max_size=3)
codes = st.sampled_from(["code-1", "code-2"])


@given(codes, params, inputs, codes, params, inputs)
def test_key_changes_iff_code_params_or_inputs_change(
    c1: str, p1: dict[str, Any], i1: dict[str, str], c2: str, p2: dict[str, Any], i2: dict[str, str]
) -> None:
    same = (c1, p1, i1) == (c2, p2, i2)
    assert (cache_key("python", c1, p1, i1) == cache_key("python", c2, p2, i2)) == same


@given(params)
def test_key_ignores_dict_order(p: dict[str, Any]) -> None:
    reordered = dict(reversed(list(p.items())))
    assert cache_key("stage", "x", p, {}) == cache_key("stage", "x", reordered, {})


def _module(root: Path, helpers: str, main_extra: str = "") -> Any:
    (root / "helpers_mod.py").write_text(helpers)
    (root / "steps_mod.py").write_text(
        "import json\nimport helpers_mod\nfrom helpers_mod import scale\n"
        "def unrelated():\n    return 0\n"
        "def step_fn(x):\n    return scale(x) + helpers_mod.OFFSET + len(json.dumps(x))\n"
        + main_extra
    )
    import sys

    for name in ("helpers_mod", "steps_mod"):
        sys.modules.pop(name, None)
    return load_module(root / "steps_mod.py", f"steps_mod_{uuid.uuid4().hex}")


def test_code_hash_follows_project_code_only(tmp_path: Path) -> None:
    base = _module(tmp_path, "OFFSET = 1\ndef scale(x):\n    return 2 * x\n")
    h0 = code_hash(base.step_fn, tmp_path)
    same = _module(tmp_path, "OFFSET = 1\ndef scale(x):\n    return 2 * x\n")
    assert code_hash(same.step_fn, tmp_path) == h0
    edited_helper = _module(tmp_path, "OFFSET = 1\ndef scale(x):\n    return 3 * x\n")
    assert code_hash(edited_helper.step_fn, tmp_path) != h0
    unrelated = _module(
        tmp_path, "OFFSET = 1\ndef scale(x):\n    return 2 * x\n", "def more():\n    return 1\n"
    )
    assert code_hash(unrelated.step_fn, tmp_path) == h0  # json (stdlib) is not followed
