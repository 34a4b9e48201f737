"""Cache keys: a step runs again only when its code, params or inputs change.

key = BLAKE3 of the canonical JSON of `{kind, code, params, inputs}`, where
`inputs` maps each input (argument name or dependency path) to its content
id and `code` is:

- for a Python step, the hash of the function's source plus, recursively,
  the source of the functions, classes and modules it references (through
  its globals and closure) that live in the project, i.e. in files under
  the workspace folder and not in an installed package. Editing a helper
  the step calls changes the key; upgrading pandas does not (pin versions
  in the environment for that). This follows Hamilton's code version
  (`hamilton/caching/cache_key.py`) and extends it to called project code.
- for a shell stage, the command after parameter substitution.
"""

from __future__ import annotations

import inspect
import json
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mlcycle.core import PipelineError, hash_bytes
from mlcycle.pipeline._step import Pipeline, Step

_OUTSIDE_PROJECT = {"site-packages", "dist-packages", ".venv", "venv", ".mlcycle"}


def canonical_json(value: Any) -> bytes:
    """The canonical JSON encoding (sorted keys, no spaces, UTF-8) of `value`.

    Raises:
        PipelineError: if `value` holds something JSON cannot encode (or NaN/inf).
    """
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as err:
        raise PipelineError(
            f"a step param is not JSON-able ({err}); use numbers, strings, booleans, lists or dicts"
        ) from None
    return text.encode()


def cache_key(kind: str, code: str, params: Mapping[str, Any], inputs: Mapping[str, str]) -> str:
    """The cache key (64-hex BLAKE3) of a step.

    Args:
        kind: `python` or `stage`.
        code: the code hash (:func:`code_hash`) or the substituted command.
        params: the step's params (JSON-able).
        inputs: input name -> content id (object id of a value, file or folder).
    """
    record = {"kind": kind, "code": code, "params": dict(params), "inputs": dict(inputs)}
    return hash_bytes(canonical_json(record))


def code_hash(fn: Callable[..., Any], root: Path) -> str:
    """Hash `fn`'s source and the source of the project code it references.

    Args:
        fn: the step function.
        root: the workspace folder; only code in files under it is followed.

    Raises:
        PipelineError: if the function's source cannot be read (e.g. defined in a REPL).
    """
    sources: dict[str, str] = {}
    _collect(fn, root.resolve(), sources)
    return hash_bytes(canonical_json(sources))


def _in_project(obj: Any, root: Path) -> bool:
    try:
        file = inspect.getsourcefile(obj)
    except TypeError:  # builtins and C extensions have no source file
        return False
    if file is None:
        return False
    path = Path(file).resolve()
    return path.is_relative_to(root) and not _OUTSIDE_PROJECT & set(path.parts)


def _source(obj: Any) -> str:
    try:
        if isinstance(obj, types.ModuleType):
            return Path(inspect.getfile(obj)).read_text(encoding="utf-8")
        return inspect.getsource(obj)
    except (OSError, TypeError) as err:
        name = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
        raise PipelineError(
            f"cannot read the source of {name} ({err}); define steps in a .py file of the workspace"
        ) from None


def _collect(obj: Any, root: Path, sources: dict[str, str]) -> None:
    obj = _unwrap(obj)
    ident = _ident(obj, root)
    if ident in sources:
        return
    sources[ident] = _source(obj)
    for ref in _references(obj):
        target = _unwrap(ref)
        followable = isinstance(target, types.FunctionType | type | types.ModuleType)
        if followable and _in_project(target, root):
            _collect(target, root, sources)


def _ident(obj: Any, root: Path) -> str:
    # File and qualified name, not the module's name: the name a pipeline
    # module is imported under must not change the key.
    try:
        file = Path(inspect.getfile(obj)).resolve()
        where = str(file.relative_to(root)) if file.is_relative_to(root) else str(file)
    except TypeError:
        where = getattr(obj, "__module__", "")
    return f"{where}:{getattr(obj, '__qualname__', '')}"


def _unwrap(obj: Any) -> Any:
    return obj.fn if isinstance(obj, Step | Pipeline) else obj


def _references(obj: Any) -> Iterator[Any]:
    """Objects a function (or a class's methods) refers to by global name or closure."""
    if isinstance(obj, type):
        for member in vars(obj).values():
            member = getattr(member, "__func__", member)  # staticmethod, classmethod
            if isinstance(member, types.FunctionType):
                yield from _references(member)
        return
    if not isinstance(obj, types.FunctionType):
        return
    for name in _names(obj.__code__):
        if name in obj.__globals__:
            yield obj.__globals__[name]
    for cell in obj.__closure__ or ():
        try:
            yield cell.cell_contents
        except ValueError:  # an empty cell
            continue


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)
