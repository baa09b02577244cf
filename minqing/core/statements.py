"""A list's query compiled once per shape, not built and compiled by the ORM per request.

The household list and its search build a queryset of a dozen filters, subqueries and a
union on every request; building and compiling it was a few milliseconds of Python per
page, more than PostgreSQL took to run it. Here the selector builds it once per *shape*
from marks in place of the values (`compiled`), and later requests of the same shape
put their values in the compiled statement's parameters.

The shape is the names of the values (and the caller's key), never their content: a
`build` function must branch only on which names it is given, so the same names always
give the same SQL. Scoping goes through the queryset's own `visible_to` as everywhere,
with the jurisdiction among the values (`scope_values`, `scope_user`).
"""

import re
from types import SimpleNamespace

from django.core.exceptions import EmptyResultSet
from django.db import connection

_MARK = "\x1f"
_MARKS = re.compile("\x1f(\\d+)\x1f")
_EXACT, _PATTERN, _CONSTANT = 0, 1, 2
_compiled: dict = {}


def _mark(i: int) -> str:
    return f"{_MARK}{i}{_MARK}"


def scope_values(user) -> dict:
    """The viewer's jurisdiction as values: its paths (path0, path1 …), or `superuser`.
    Whether the viewer is a superuser is a name, so part of the shape: a statement
    compiled for a superuser (no scope) never serves a viewer without areas."""
    from .scoping import jurisdiction_paths

    if getattr(user, "is_superuser", False) and user.is_active:
        return {"superuser": ""}
    return {f"path{i}": p for i, p in enumerate(jurisdiction_paths(user))}


def scope_user(values: dict):
    """A stand-in for the viewer, for `visible_to` in a build, from `scope_values`'
    names (marks when compiling)."""
    return SimpleNamespace(
        pk=None,
        is_authenticated=True,
        is_active=True,
        is_superuser="superuser" in values,
        unit_id=None,
        _jurisdiction_paths=[v for k, v in values.items() if k.startswith("path")],
    )


class Statement:
    """Rows of a compiled list query for a paginator: sliced with LIMIT/OFFSET, counted by
    a second compiled statement; `empty` when the query matches nothing by construction."""

    def __init__(self, rows, count):
        self._rows, self._count = rows, count

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step is not None or key.stop is None:
            raise TypeError("a Statement is read by pages")
        if self._rows is None:
            return []
        start = key.start or 0
        sql, params = self._rows
        with connection.cursor() as cur:
            cur.execute(f"{sql} LIMIT %s OFFSET %s", [*params, max(key.stop - start, 0), start])
            return cur.fetchall()

    def count(self) -> int:
        if self._count is None:
            return 0
        with connection.cursor() as cur:
            cur.execute(*self._count)
            return cur.fetchone()[0]

    def __len__(self):
        return self.count()


def _template(build, key, names):
    marks = {name: _mark(i) for i, name in enumerate(names)}
    by_mark = {m: name for name, m in marks.items()}
    queryset = build(marks)
    if getattr(queryset, "owner_field", None) or getattr(queryset, "unit_field", None):
        # scope_user has no pk or unit: the rows given to the viewer outside their areas
        # would be left out of the compiled statement. Area-scoped models only.
        raise TypeError(f"{queryset.model.__name__}: visible beyond its area, not compilable")
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return None
    template = []
    for p in params:
        if isinstance(p, str) and _MARK in p:
            name = by_mark.get(p)
            template.append((_EXACT, name) if name else (_PATTERN, p))
        else:
            template.append((_CONSTANT, p))
    return sql, template, names


def compiled(key, values: dict[str, str], build) -> tuple[str, list] | None:
    """`build(values).query`'s SQL and parameters, compiled once per (key, names of the
    values); None when the query matches nothing (`.none()`). Values are strings used by
    exact and LIKE lookups (a LIKE pattern's value is escaped as the lookup escapes it)."""
    shape = (key, connection.vendor, tuple(values))
    entry = _compiled.get(shape)
    if entry is None:
        entry = _compiled[shape] = _template(build, key, tuple(values)) or (None,)
    if entry[0] is None:
        return None
    sql, template, names = entry
    like = connection.ops.prep_for_like_query

    def put(match):
        return like(values[names[int(match.group(1))]])

    params = []
    for kind, item in template:
        if kind == _EXACT:
            params.append(values[item])
        elif kind == _PATTERN:  # one pass: a value holding a mark is not read again
            params.append(_MARKS.sub(put, item))
        else:
            params.append(item)
    return sql, params
