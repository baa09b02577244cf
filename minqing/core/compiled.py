"""A fixed-shape ORM read built and compiled once per connection, then run with new values.

The household page, the area page and the home page read a handful of rows by a few keys
(a household's id, the viewer's jurisdiction paths). Building those querysets and compiling
them to SQL was a third of the page's time on every request (perf7b's profile: ~7 ms of the
household page), more than PostgreSQL took to run them. Here `rows(key, values, build)`
builds the queryset once per *shape* from marks in place of the values, compiles it, and
keeps the compiler: later requests put their values in its parameters and let Django's own
iterable (models with their select_related, `values_list` tuples) read the rows, so what a
caller gets is exactly what `list(build(values))` gives.

As in core.statements, the shape is the key and the names and kinds (int or str) of the
values, never their content: a `build` must branch only on which names it is given. A
value may appear only as a lookup's whole parameter (exact, `in` over several names) or in
a LIKE pattern (startswith); a build that drops or transforms one is refused when compiled.
Scoping goes through the queryset's own `visible_to` / `visible_by_area` with `viewer(values)`
and `scope_values(user)`: by area only (the stand-in viewer has no id and no unit, and a
queryset that would consult them refuses to compile).

Kept on the connection object (one per thread; not on the `connection` proxy, which every
thread shares): a compiler belongs to its connection, and runs one statement at a time.
"""

import re
from datetime import UTC, datetime

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections

from .statements import scope_values  # noqa: F401 - the values of a viewer's scope

_MARK = "\x1f"
_MARKS = re.compile("\x1f(\\d+)\x1f")
_INT_BASE = -(2**62) + 7_919  # marks of integer values: never a key, never a count
_EXACT, _PATTERN, _CONSTANT, _MOMENT = 0, 1, 2, 3
_EMPTY = object()


class _Viewer:
    """A stand-in for the viewer in a build: its jurisdiction paths (marks when compiling),
    whether it is a superuser (a name, so part of the shape). Reading its id or unit (rows
    given to a user or unit beyond their area) is refused: such a statement depends on who
    asks, not only on the values."""

    is_authenticated = True
    is_active = True

    def __init__(self, values: dict):
        self.is_superuser = "superuser" in values
        self._jurisdiction_paths = [v for k, v in values.items() if k.startswith("path")]

    @property
    def pk(self):
        raise TypeError("a compiled read is scoped by area only (visible_by_area)")

    unit_id = pk
    id = pk


def viewer(values: dict) -> _Viewer:
    return _Viewer(values)


def _moment(i: int) -> datetime:
    """The mark of an (aware) datetime value: a microsecond of 1901 no row holds."""
    return datetime(1901, 1, 1, 0, 0, 0, i + 1, tzinfo=UTC)


def _marks(names, kinds) -> dict:
    return {
        name: (
            _INT_BASE + i
            if kind is int
            else _moment(i)
            if kind is datetime
            else f"{_MARK}{i}{_MARK}"
        )
        for i, (name, kind) in enumerate(zip(names, kinds, strict=True))
    }


class _Entry:
    __slots__ = ("queryset", "compiler", "sql", "template", "names", "params")


def _compile(build, names, kinds):
    marks = _marks(names, kinds)
    queryset = build(marks)
    if queryset._prefetch_related_lookups:
        raise TypeError("a compiled read is one statement: no prefetch_related")
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return _EMPTY
    if not sql:
        return _EMPTY
    by_int = {m: i for i, m in enumerate(marks.values()) if isinstance(m, int)}
    by_str = {m: i for i, m in enumerate(marks.values()) if isinstance(m, str)}
    # a datetime reaches the statement as the backend adapts it (SQLite: text in UTC)
    adapt = connection.ops.adapt_datetimefield_value
    by_moment = {adapt(m): i for i, m in enumerate(marks.values()) if isinstance(m, datetime)}
    template, seen = [], set()
    for p in params:
        if isinstance(p, bool):
            template.append((_CONSTANT, p))
        elif isinstance(p, (datetime, str)) and p in by_moment:
            template.append((_MOMENT, by_moment[p]))
            seen.add(by_moment[p])
        elif isinstance(p, int) and p in by_int:
            template.append((_EXACT, by_int[p]))
            seen.add(by_int[p])
        elif isinstance(p, str) and _MARK in p:
            if p in by_str:
                template.append((_EXACT, by_str[p]))
                seen.add(by_str[p])
            else:
                template.append((_PATTERN, p))
                seen.update(int(i) for i in _MARKS.findall(p))
        elif isinstance(p, (list, tuple, set, dict)) or (
            isinstance(p, int) and _INT_BASE <= p < _INT_BASE + 10**6
        ):
            raise TypeError(f"{key_name(build)}: a value inside a container, or changed")
        else:
            template.append((_CONSTANT, p))
    # every value is a parameter; `superuser` (scope_values) is a name alone
    wanted = {i for i, name in enumerate(names) if name != "superuser"}
    if _MARK in sql or str(_INT_BASE)[:12] in sql or "1901-01-01" in sql or not wanted <= seen:
        raise TypeError(f"{key_name(build)}: a value was written into the SQL or dropped")
    entry = _Entry()
    entry.queryset, entry.compiler, entry.sql = queryset, compiler, sql
    entry.template, entry.names, entry.params = template, names, []
    compiler.as_sql = lambda *args, **kwargs: (entry.sql, entry.params)
    # the columns' converters (dates, decimals...) depend on the statement alone: found once
    converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
    compiler.get_converters = lambda expressions: converters
    queryset.query.get_compiler = lambda *args, **kwargs: entry.compiler
    return entry


_MAX_SHAPES = 2_000


def _cache() -> dict:
    """This thread's connection's compiled statements (`django.db.connection` is a proxy
    shared by every thread: the cache lives on the connection it stands for)."""
    db = connections[DEFAULT_DB_ALIAS]
    cache = db.__dict__.get("_minqing_compiled")
    if cache is None or len(cache) > _MAX_SHAPES:
        cache = db.__dict__["_minqing_compiled"] = {}
    return cache


def key_name(build) -> str:
    return getattr(build, "__qualname__", repr(build))


def rows(key, values: dict, build) -> list:
    """`list(build(values))`, the queryset built and compiled once per (key, names and
    kinds of the values) on this connection. Values are ints, strs and aware datetimes
    (compared with a datetime column: the backend adapts them)."""
    names = tuple(values)
    kinds = tuple(type(v) for v in values.values())
    for v, kind in zip(values.values(), kinds, strict=True):
        if kind is datetime and v.tzinfo is not None:
            continue
        if kind is not int and kind is not str:
            raise TypeError(f"{key}: values are ints, strs and aware datetimes, not {kind}")
    cache = _cache()
    shape = (key, names, kinds)
    entry = cache.get(shape)
    if entry is None:
        entry = cache[shape] = _compile(build, names, kinds)
    if entry is _EMPTY:
        return []
    ordered = [values[n] for n in names]
    like = connection.ops.prep_for_like_query

    def put(match):
        return like(ordered[int(match.group(1))])

    params = []
    for kind, item in entry.template:
        if kind == _EXACT:
            params.append(ordered[item])
        elif kind == _PATTERN:  # one pass: a value holding a mark is not read again
            params.append(_MARKS.sub(put, item))
        elif kind == _MOMENT:
            params.append(connection.ops.adapt_datetimefield_value(ordered[item]))
        else:
            params.append(item)
    entry.params = params
    base = entry.queryset
    qs = base.__class__.__new__(base.__class__)
    qs.__dict__ = base.__dict__.copy()  # the compiled query itself, shared: only read
    qs._result_cache = None
    qs._prefetch_done = False
    return list(qs)
