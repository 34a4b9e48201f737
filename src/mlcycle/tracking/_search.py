"""The run search language: filters and sort orders compiled to indexed SQL.

A filter such as ``metrics.mae < 40 and params.model = 'hgb'`` is read by a
small tokenizer and a recursive-descent parser, and compiled straight into
a SQLAlchemy Core WHERE clause over
``select(RunRow, ExperimentRow.name).join(ExperimentRow, ...)`` (see
:func:`mlcycle.tracking._queries.search_runs`). The language is documented
in ``docs/tracking-search.md``; its grammar::

    filter     := or_expr END
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := not_expr ("AND" not_expr)*
    not_expr   := "NOT" not_expr | "(" or_expr ")" | comparison
    comparison := field ( CMP value
                        | ["NOT"] ("LIKE" | "ILIKE") string
                        | ["NOT"] "IN" "(" value ("," value)* ")"
                        | "IS" ["NOT"] "NULL" )
    field      := ("metrics" | "params" | "tags") "." key
                | ["attributes" "."] attribute
    key        := plain-key | `back-quoted` | "double-quoted"
    value      := number | string | relative-time
    order_item := field ["ASC" | "DESC"]

Every comparison is two-valued (true or false for each run, never SQL
NULL), so ``NOT`` is the exact complement. A comparison on a metric, param
or tag matches only runs that have it (``IS NULL`` asks for runs without
it); metrics, params and tags are looked up by the primary key
``(run_id, key)`` in ``EXISTS`` subqueries. Every literal is a bound
parameter. Three small constructs compile differently on SQLite and
PostgreSQL so that both give the same answers: a guarded text-to-number
cast, byte-order string comparison and case-sensitive LIKE.
"""

from __future__ import annotations

import difflib
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from mlcycle.core import InputError
from mlcycle.store.schema import ExperimentRow, LatestMetricRow, ParamRow, RunRow, TagRow

#: The text of a number, as params compare numerically: JSON's number syntax,
#: with an exponent of at most 4 digits (so PostgreSQL's NUMERIC cast never fails).
NUMBER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][+-]?[0-9]{1,4})?")

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<duration>[+-]?(?:\d+(?:\.\d*)?|\.\d+)[smhdw])(?![\w.])
    |(?P<number>[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|(?i:inf(?:inity)?|nan))(?![\w./-]))
    |(?P<word>[A-Za-z_][A-Za-z0-9_./-]*)
    |(?P<op><=|>=|!=|<>|==|=|<|>)
    |(?P<punct>[(),])""",
    re.X,
)
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ORDERING = {"<", "<=", ">", ">="}
_KINDS = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
}
_RUNS, _PARAMS, _TAGS = RunRow.__table__, ParamRow.__table__, TagRow.__table__
_LATEST = LatestMetricRow.__table__
_TEXT_ATTRIBUTES: dict[str, ColumnElement[Any]] = {
    "name": _RUNS.c.name,
    "status": _RUNS.c.status,
    "id": _RUNS.c.id,
    "run_id": _RUNS.c.id,
    "experiment": ExperimentRow.__table__.c.name,
    "parent_id": _RUNS.c.parent_id,
}
_TIME_ATTRIBUTES: dict[str, ColumnElement[Any]] = {
    "start_time": _RUNS.c.start_time,
    "end_time": _RUNS.c.end_time,
}
_TABLES = {"metric": _LATEST, "param": _PARAMS, "tag": _TAGS}
_NULLABLE = {"parent_id", "end_time"}
_KEYWORDS = {"and", "or", "not", "like", "ilike", "in", "is", "null"}
_MAX_DEPTH = 100
_OPERATORS_HINT = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN or IS NULL"
_FIELDS_HINT = "metrics.KEY, params.KEY, tags.KEY, " + ", ".join(
    [*_TEXT_ATTRIBUTES, *_TIME_ATTRIBUTES]
)


# -- SQL constructs that differ between SQLite and PostgreSQL ----------------------------


class _AsNumber(FunctionElement[float]):
    """``text`` as a number when it is a :data:`NUMBER_TEXT`, else NULL; never an error."""

    type = Float()
    inherit_cache = True
    name = "as_number"


class _NumberParam(FunctionElement[float]):
    """A bound number to compare with :class:`_AsNumber` (NUMERIC on PostgreSQL)."""

    type = Float()
    inherit_cache = True
    name = "number_param"


class _Bytewise(FunctionElement[str]):
    """A text expression compared and sorted in byte (code point) order."""

    inherit_cache = True
    name = "bytewise"


class _HasRow(FunctionElement[bool]):
    """Whether the run has a matching row; args: the EXISTS form, the IN form.

    SQLite uses the `(key, value)` index of `latest_metrics` only for the
    uncorrelated ``runs.id IN (SELECT run_id ...)`` (60 times faster for a
    selective filter on 10,000 runs); PostgreSQL plans EXISTS as a semi- or
    anti-join, while its ``NOT IN (subquery)`` can go quadratic.
    """

    inherit_cache = True
    name = "has_row"


class _Like(FunctionElement[bool]):
    """Case-sensitive ``text LIKE pattern ESCAPE '\\'``; args: text, LIKE pattern, GLOB pattern."""

    inherit_cache = True
    name = "case_sensitive_like"


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(arg, **kw) for arg in element.clauses]


@compiles(_AsNumber, "sqlite")
def _as_number_sqlite(element: _AsNumber, compiler: SQLCompiler, **kw: Any) -> str:
    (x,) = _args(element, compiler, **kw)
    # json_valid is RFC 8259 (no JSON5); json_type raises on invalid text, hence the nesting.
    return (
        f"CASE WHEN json_valid({x}) THEN CASE WHEN json_type({x}) IN ('integer', 'real')"
        f" AND NOT ({x} GLOB '*[eE]*[0-9][0-9][0-9][0-9][0-9]*') THEN CAST({x} AS REAL) END END"
    )


@compiles(_AsNumber, "postgresql")
def _as_number_pg(element: _AsNumber, compiler: SQLCompiler, **kw: Any) -> str:
    (x,) = _args(element, compiler, **kw)
    return f"CASE WHEN {x} ~ '^{NUMBER_TEXT.pattern}$' THEN CAST({x} AS NUMERIC) END"


@compiles(_AsNumber)
def _as_number_default(element: _AsNumber, compiler: SQLCompiler, **kw: Any) -> str:
    (x,) = _args(element, compiler, **kw)
    return f"CAST({x} AS FLOAT)"


@compiles(_NumberParam, "postgresql")
def _number_param_pg(element: _NumberParam, compiler: SQLCompiler, **kw: Any) -> str:
    (x,) = _args(element, compiler, **kw)
    return f"CAST({x} AS NUMERIC)"


@compiles(_NumberParam)
def _number_param_default(element: _NumberParam, compiler: SQLCompiler, **kw: Any) -> str:
    return _args(element, compiler, **kw)[0]


@compiles(_Bytewise, "postgresql")
def _bytewise_pg(element: _Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({_args(element, compiler, **kw)[0]}) COLLATE "C"'


@compiles(_Bytewise)
def _bytewise_default(element: _Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return _args(element, compiler, **kw)[0]  # SQLite's BINARY collation is byte order


@compiles(_HasRow, "sqlite")
def _has_row_sqlite(element: _HasRow, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_args(element, compiler, **kw)[1]})"


@compiles(_HasRow)
def _has_row_default(element: _HasRow, compiler: SQLCompiler, **kw: Any) -> str:
    return _args(element, compiler, **kw)[0]


@compiles(_Like, "sqlite")
def _like_sqlite(element: _Like, compiler: SQLCompiler, **kw: Any) -> str:
    x, _, glob = _args(element, compiler, **kw)
    return f"({x} GLOB {glob})"  # SQLite's LIKE ignores ASCII case; GLOB does not


@compiles(_Like)
def _like_default(element: _Like, compiler: SQLCompiler, **kw: Any) -> str:
    x, pattern, _ = _args(element, compiler, **kw)
    return f"({x} LIKE {pattern} ESCAPE '\\')"


def _glob(pattern: str) -> str:
    """Translate a LIKE pattern (escape character backslash) to a SQLite GLOB pattern."""
    out, chars = [], iter(pattern)
    for c in chars:
        if c == "\\":
            c = next(chars, "\\")
        elif c in "%_":
            out.append("*" if c == "%" else "?")
            continue
        out.append(f"[{c}]" if c in "*?[" else c)
    return "".join(out)


# -- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    """One token: `kind` is word, number, string, quoted, duration, op, (, ), "," or end."""

    kind: str
    text: str
    pos: int
    value: Any = None


def _fail(label: str, text: str, message: str, pos: int) -> InputError:
    shown = re.sub(r"\s", " ", text)
    where = f"position {pos}" + (" (the end)" if pos >= len(text) else "")
    return InputError(f"{label}: {message} at {where}: {shown}")


def _read_quoted(label: str, text: str, pos: int) -> tuple[str, int]:
    """Read the quoted text starting at `pos`; return it and the position after it.

    The quote is escaped by doubling it (``'it''s'``) or with a backslash
    (``'it\\'s'``); ``\\\\`` is one backslash; any other backslash is kept.
    """
    quote, out, i = text[pos], [], pos + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in f"\\{quote}":
            out.append(text[i + 1])
            i += 2
        elif c == quote and text[i + 1 : i + 2] == quote:
            out.append(quote)
            i += 2
        elif c == quote:
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise _fail(label, text, f"unterminated text (no closing {quote})", pos)


def _tokens(label: str, text: str) -> list[_Token]:
    """Split `text` into tokens (the last is an `end` token)."""
    out, pos = [], 0
    while pos < len(text):
        if text[pos] in "'\"`":
            value, end = _read_quoted(label, text, pos)
            kind = "quoted" if text[pos] == "`" else "string"
            out.append(_Token(kind, text[pos:end], pos, value))
            pos = end
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            hint = (
                " (quote keys with other characters: metrics.`my key`)"
                if text[pos].isalnum()
                else ""
            )
            raise _fail(label, text, f"unexpected character {text[pos]!r}{hint}", pos)
        kind = m.group() if m.lastgroup == "punct" else m.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, m.group(), pos, _token_value(kind, m.group())))
        pos = m.end()
    return [*out, _Token("end", "", len(text))]


def _token_value(kind: str, text: str) -> Any:
    if kind == "number":
        return float(text)
    if kind == "duration":
        return float(text[:-1]) * _UNITS[text[-1]]
    if kind == "op":
        return _OPS[text]
    return text


# -- fields and values ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """A field of a run: `kind` metric, param, tag or attribute, and its key or name."""

    kind: str
    key: str
    token: _Token

    @property
    def label(self) -> str:
        return self.key if self.kind == "attribute" else f"{self.kind} {self.key!r}"


def _has(
    table: FromClause, key: str, cond: ColumnElement[bool] | None = None
) -> ColumnElement[bool]:
    """EXISTS a row of `table` (params, tags or latest_metrics) of this run with `key`, `cond`."""
    where = [table.c.key == key, *([] if cond is None else [cond])]
    exists = select(literal(1)).where(table.c.run_id == _RUNS.c.id, *where).exists()
    if table is not _LATEST:
        return exists  # params and tags: a primary-key lookup per run
    return _HasRow(exists, _RUNS.c.id.in_(select(table.c.run_id).where(*where)))


# -- comparisons ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Comparison:
    """`field OP values` as parsed; `op` is =, !=, <, <=, >, >=, like, ilike, in or null."""

    field: _Field
    op: str
    negated: bool
    values: list[_Token]
    op_token: _Token


class _Compiler:
    """Turns comparisons into WHERE clauses; errors point into `text`."""

    def __init__(self, label: str, text: str) -> None:
        self.label, self.text = label, text

    def fail(self, message: str, pos: int) -> InputError:
        return _fail(self.label, self.text, message, pos)

    def compile(self, c: _Comparison) -> ColumnElement[bool]:
        if c.op == "null":
            clause = self._missing(c.field)
            return not_(clause) if c.negated else clause
        if c.field.kind == "metric":
            return _has(_LATEST, c.field.key, self._metric(c, _LATEST.c.value))
        if c.field.kind in ("param", "tag"):
            table = _PARAMS if c.field.kind == "param" else _TAGS
            return _has(table, c.field.key, self._text(c, table.c.value))
        return self._attribute(c)

    def _missing(self, field: _Field) -> ColumnElement[bool]:
        if field.kind == "attribute":
            return _attribute_column(field).is_(None)
        return not_(_has(_TABLES[field.kind], field.key))

    def _attribute(self, c: _Comparison) -> ColumnElement[bool]:
        col = _attribute_column(c.field)
        timed = c.field.key in _TIME_ATTRIBUTES
        clause = self._time(c, col) if timed else self._text(c, col)
        if c.field.key in _NULLABLE:  # keep the logic two-valued: NULL never compares
            clause = and_(col.is_not(None), clause)
        return clause

    def _metric(self, c: _Comparison, value: ColumnElement[Any]) -> ColumnElement[bool]:
        if c.op in ("like", "ilike"):
            raise self.fail(
                f"{c.op.upper()} does not apply to {c.field.label} (a number)", c.op_token.pos
            )
        nums = [self._number(c.field, t, c.op in _ORDERING) for t in c.values]
        if c.op == "in":
            return _combine(c.negated, [_metric_equals(value, n, not c.negated) for n in nums])
        if c.op in ("=", "!="):
            return _metric_equals(value, nums[0], c.op == "=")
        return _COMPARE[c.op](value, nums[0])

    def _text(self, c: _Comparison, value: ColumnElement[Any]) -> ColumnElement[bool]:
        if c.op in ("like", "ilike"):
            pattern = self._string(c.values[0])
            like: ColumnElement[bool]
            if c.op == "ilike":
                like = value.ilike(pattern, escape="\\")
            else:
                like = _Like(value, literal(pattern), literal(_glob(pattern)))
            return not_(like) if c.negated else like
        if c.op in _ORDERING and c.values[0].kind == "number":
            n = self._number(c.field, c.values[0], True)
            return _COMPARE[c.op](_AsNumber(value), _NumberParam(literal(n)))
        texts = [self._string(t, numbers=True) for t in c.values]
        if c.op == "in":
            return value.not_in(texts) if c.negated else value.in_(texts)
        if c.op in _ORDERING:
            return _COMPARE[c.op](_Bytewise(value), _Bytewise(literal(texts[0])))
        return _COMPARE[c.op](value, texts[0])

    def _time(self, c: _Comparison, col: ColumnElement[Any]) -> ColumnElement[bool]:
        if c.op in ("like", "ilike"):
            raise self.fail(
                f"{c.op.upper()} does not apply to {c.field.key} (a time)", c.op_token.pos
            )
        seconds = [self._seconds(t) for t in c.values]
        if c.op == "in":
            return col.not_in(seconds) if c.negated else col.in_(seconds)
        return _COMPARE[c.op](col, seconds[0])

    def _number(self, field: _Field, tok: _Token, ordering: bool) -> float:
        if tok.kind != "number":
            hint = (
                " (relative times are for start_time and end_time)"
                if tok.kind == "duration"
                else ""
            )
            raise self.fail(f"{field.label} compares with numbers; got {tok.text}{hint}", tok.pos)
        if ordering and math.isnan(tok.value):
            raise self.fail("nan is not ordered; compare it with = or !=", tok.pos)
        return float(tok.value)

    def _seconds(self, tok: _Token) -> float:
        """A time as seconds since the epoch: a number, a relative time or ISO 8601 text."""
        if tok.kind == "number" and math.isfinite(tok.value):
            return float(tok.value)
        if tok.kind == "duration":
            if tok.value >= 0:
                back = tok.text.lstrip("+")
                raise self.fail(f"relative times count back from now: write -{back}", tok.pos)
            return time.time() + float(tok.value)
        if tok.kind == "string":
            try:
                moment = datetime.fromisoformat(tok.value)
            except ValueError:
                pass
            else:
                return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        expected = "seconds since the epoch, ISO 8601 text or a relative time like -7d"
        raise self.fail(f"expected a time ({expected}); got {tok.text}", tok.pos)

    def _string(self, tok: _Token, numbers: bool = False) -> str:
        if tok.kind == "string" or (numbers and tok.kind == "number"):
            return tok.value if tok.kind == "string" else tok.text
        raise self.fail(f"expected quoted text; got {tok.text}", tok.pos)


_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _metric_equals(value: ColumnElement[Any], n: float, equal: bool) -> ColumnElement[bool]:
    """`value = n` (or `!=` unless `equal`) with NaN stored as NULL and equal to nan."""
    if math.isnan(n):
        return value.is_(None) if equal else value.is_not(None)
    return value == n if equal else or_(value != n, value.is_(None))


def _combine(all_of: bool, clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(*clauses) if all_of else or_(*clauses)


def _attribute_column(field: _Field) -> ColumnElement[Any]:
    return {**_TEXT_ATTRIBUTES, **_TIME_ATTRIBUTES}[field.key]


# -- the parser -----------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the tokens of one filter or order item (grammar: module doc)."""

    def __init__(self, label: str, text: str) -> None:
        self.label, self.text = label, text
        self.tokens = _tokens(label, text)
        self.i = 0
        self.depth = 0  # NOTs and parentheses open around the current token
        self.compiler = _Compiler(label, text)

    def fail(self, message: str, tok: _Token | None = None) -> InputError:
        return _fail(self.label, self.text, message, (tok or self.peek()).pos)

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += tok.kind != "end"
        return tok

    def keyword(self, *words: str) -> _Token | None:
        """Take the next token if it is one of the keywords `words` (any case)."""
        tok = self.peek()
        if tok.kind == "word" and tok.text.lower() in words:
            return self.take()
        return None

    def expect_end(self, what: str) -> None:
        if self.peek().kind != "end":
            raise self.fail(f"expected {what}; got {self.peek().text}")

    def or_expr(self) -> ColumnElement[bool]:
        clauses = [self.and_expr()]
        while self.keyword("or"):
            clauses.append(self.and_expr())
        return clauses[0] if len(clauses) == 1 else or_(*clauses)

    def and_expr(self) -> ColumnElement[bool]:
        clauses = [self.not_expr()]
        while self.keyword("and"):
            clauses.append(self.not_expr())
        return clauses[0] if len(clauses) == 1 else and_(*clauses)

    def not_expr(self) -> ColumnElement[bool]:
        negated = self.keyword("not") is not None
        if not negated and self.peek().kind != "(":
            return self.compiler.compile(self.comparison())
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(f"more than {_MAX_DEPTH} nested NOTs and parentheses")
        clause = not_(self.not_expr()) if negated else self.parenthesized()
        self.depth -= 1
        return clause

    def parenthesized(self) -> ColumnElement[bool]:
        opening = self.take()
        clause = self.or_expr()
        if self.peek().kind == "end":
            raise self.fail("'(' is never closed", opening)
        if self.peek().kind != ")":
            raise self.fail(f"expected AND, OR or ')'; got {self.peek().text}")
        self.take()
        return clause

    def comparison(self) -> _Comparison:
        field = self.field()
        tok = self.peek()
        if tok.kind == "op":
            self.take()
            return _Comparison(field, tok.value, False, [self.value(tok)], tok)
        if self.keyword("is"):
            negated = self.keyword("not") is not None
            if not self.keyword("null"):
                raise self.fail(f"expected NULL after {'IS NOT' if negated else 'IS'}")
            return _Comparison(field, "null", negated, [], tok)
        negated = self.keyword("not") is not None
        op = self.keyword("like", "ilike", "in")
        if op is None:
            expected = "LIKE, ILIKE or IN" if negated else _OPERATORS_HINT
            after = self.text[field.token.pos : self.peek().pos].strip()
            raise self.fail(f"expected an operator ({expected}) after {after!r}")
        values = self.in_list(op) if op.text.lower() == "in" else [self.value(op)]
        return _Comparison(field, op.text.lower(), negated, values, op)

    def in_list(self, op: _Token) -> list[_Token]:
        if self.peek().kind != "(":
            raise self.fail("expected '(' after IN")
        opening = self.take()
        if self.peek().kind == ")":
            raise self.fail("IN needs at least one value")
        values = [self.value(opening)]
        while self.peek().kind == ",":
            values.append(self.value(self.take()))
        if self.peek().kind != ")":
            raise self.fail("expected ',' or ')' in the IN list")
        self.take()
        return values

    def value(self, after: _Token) -> _Token:
        tok = self.peek()
        if tok.kind in ("number", "string", "duration"):
            return self.take()
        hint = ""
        if tok.kind == "word" and tok.text.lower() == "null":
            hint = " (use IS NULL)"
        elif tok.kind == "word" and tok.text.lower() not in _KEYWORDS:
            hint = f" (quote text: '{tok.text}')"
        raise self.fail(f"expected a value after {after.text!r}{hint}")

    def field(self) -> _Field:
        tok = self.peek()
        if tok.kind != "word" or tok.text.lower() in _KEYWORDS:
            got = "" if tok.kind == "end" else f"; got {tok.text}"
            raise self.fail(f"expected a field ({_FIELDS_HINT}){got}")
        self.take()
        prefix, dot, rest = tok.text.partition(".")
        kind = _KINDS.get(prefix.lower()) if dot else None
        if kind is None:
            return self.attribute(tok.text, tok)
        if not rest:
            quoted = self.peek()
            if quoted.kind not in ("quoted", "string"):
                raise self.fail(
                    f"expected a key after {tok.text!r} (quote odd keys: {prefix}.`my key`)"
                )
            rest = self.take().value
        if kind == "attribute":
            return self.attribute(rest, tok)
        if not rest:
            raise self.fail(f"{kind} key must not be empty", tok)
        return _Field(kind, rest, tok)

    def attribute(self, name: str, tok: _Token) -> _Field:
        key = name.lower()
        if key in _TEXT_ATTRIBUTES or key in _TIME_ATTRIBUTES:
            return _Field("attribute", "id" if key == "run_id" else key, tok)
        close = difflib.get_close_matches(key, [*_KINDS, *_TEXT_ATTRIBUTES, *_TIME_ATTRIBUTES], 1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise self.fail(f"unknown field {name!r} ({hint}fields: {_FIELDS_HINT})", tok)


def filter_clause(text: str) -> ColumnElement[bool]:
    """Compile the search filter `text` into a WHERE clause over runs joined to experiments.

    The language is documented in ``docs/tracking-search.md``, e.g.
    ``"metrics.mae < 40 and params.model = 'hgb'"``. Blank text matches
    every run. Every literal becomes a bound parameter.

    Args:
        text: the filter.

    Returns:
        A boolean clause for ``select(RunRow, ExperimentRow.name).join(ExperimentRow, ...)``.

    Raises:
        InputError: if the filter is malformed; the one-line message names
            the problem and its position (0-based) and repeats the filter.
    """
    parser = _Parser("filter", text)
    if parser.peek().kind == "end":
        return true()
    clause = parser.or_expr()
    if parser.peek().kind == ")":
        raise parser.fail("unmatched ')'")
    parser.expect_end("AND, OR or the end of the filter")
    return clause


def order_clauses(items: Sequence[str]) -> list[ColumnElement[Any]]:
    """Compile sort items ``FIELD [ASC|DESC]`` (default ASC) into ORDER BY clauses.

    Runs without the metric, param or tag (and NaN metrics) sort last in
    both directions. Params and tags sort as numbers when their text is a
    number, then as text (byte order); so do text attributes as text.

    Args:
        items: e.g. ``["metrics.mae", "start_time DESC"]``.

    Returns:
        One or two clauses per item, in order.

    Raises:
        InputError: if an item is malformed (the message points at the position).
    """
    clauses: list[ColumnElement[Any]] = []
    for item in items:
        parser = _Parser("order_by", item)
        field = parser.field()
        direction = parser.keyword("asc", "desc")
        parser.expect_end("ASC, DESC or the end of the sort item")
        descending = direction is not None and direction.text.lower() == "desc"
        for key in _sort_keys(field):
            clauses.append((key.desc() if descending else key.asc()).nulls_last())
    return clauses


def _sort_keys(field: _Field) -> list[ColumnElement[Any]]:
    if field.kind == "attribute":
        col = _attribute_column(field)
        return [col if field.key in _TIME_ATTRIBUTES else _Bytewise(col)]
    if field.kind == "metric":
        return [_lookup(_LATEST, field.key, _LATEST.c.value)]
    table = _TABLES[field.kind]
    return [
        _lookup(table, field.key, _AsNumber(table.c.value)),
        _lookup(table, field.key, _Bytewise(table.c.value)),
    ]


def _lookup(table: FromClause, key: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
    """The scalar subquery `value` from this run's row of `table` with `key` (NULL if none)."""
    return select(value).where(table.c.run_id == _RUNS.c.id, table.c.key == key).scalar_subquery()
