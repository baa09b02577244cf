"""One application error hierarchy, turned into a response in one place (api.py, views)."""

import re
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status = 400
    code = "domain_error"
    message = _("操作无法完成")

    def __init__(self, message=None, *, code: str | None = None, details=None):
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        self.details = details
        super().__init__(str(self.message))

    def as_dict(self) -> dict:
        data = {"detail": str(self.message), "code": self.code}
        if self.details is not None:
            data["errors"] = self.details
        return data


class ValidationFailed(DomainError):
    """Bad input; `details` lists every problem (e.g. one entry per bad import row)."""

    status = 400
    code = "invalid"
    message = _("输入有误")


class PermissionDeniedError(DomainError):
    status = 403
    code = "forbidden"
    message = _("您的角色无权执行此操作")


class NotFoundError(DomainError):
    """Same answer for 'missing' and 'outside your jurisdiction'."""

    status = 404
    code = "not_found"
    message = _("记录不存在或不在您的管辖范围内")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = _("与已有数据冲突")


class IllegalTransition(Conflict):
    code = "illegal_transition"
    message = _("该事项当前状态不允许此操作")

    def __init__(self, *, state: str, action: str):
        super().__init__(details={"state": state, "action": action})


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    message = _("操作过于频繁,请稍后再试")


class StaleEdit(Conflict):
    """The record changed since the editor read it; `details` names what changed."""

    code = "stale"
    message = _("您编辑期间该记录已被他人修改")


def form_status(exc: DomainError) -> int:
    """The status of a page that re-renders its form with a refused service's message: the
    error's own where the page can say it (bad input, gone, conflict, too many), else 400 (a
    role refused mid-form still sees the message in place)."""
    return exc.status if exc.status in (400, 404, 409, 429) else 400


# ------------------------------------------------------------ constraints -> 409

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
_PG_KEY = re.compile(r"Key \((?P<cols>[^)]*)\)=")


def _names_for_columns(table: str, columns: tuple[str, ...]) -> set[str]:
    """Names of the unique constraints of `table` over exactly these columns: the Meta
    constraint names, and `<table>_<column>_key` (PostgreSQL's name for `unique=True`)."""
    from django.apps import apps
    from django.db.models import UniqueConstraint

    names = set()
    for model in apps.get_models():
        if model._meta.db_table != table:
            continue
        for constraint in model._meta.constraints:
            if isinstance(constraint, UniqueConstraint) and constraint.fields:
                cols = tuple(model._meta.get_field(f).column for f in constraint.fields)
                if sorted(cols) == sorted(columns):
                    names.add(constraint.name)
        if len(columns) == 1:
            for field in model._meta.local_fields:
                if field.unique and field.column == columns[0]:
                    names.add(f"{table}_{field.column}_key")
    return names


def violated_constraints(exc: IntegrityError) -> set[str]:
    """The name(s) of the unique constraint an IntegrityError reports, on PostgreSQL (from
    the server's diagnostics) and SQLite (from the table and columns it names)."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        names = {diag.constraint_name}
        match = _PG_KEY.search(getattr(diag, "message_detail", "") or "")
        if match and diag.table_name:
            cols = tuple(c.strip().strip('"') for c in match.group("cols").split(","))
            names |= _names_for_columns(diag.table_name, cols)
        return names
    match = _SQLITE_UNIQUE.search(str(exc))
    if not match:
        return set()
    pairs = [p.strip().split(".", 1) for p in match.group(1).split(",")]
    if not pairs or any(len(p) != 2 for p in pairs):
        return set()
    table = pairs[0][0]
    return _names_for_columns(table, tuple(col for _t, col in pairs))


@contextmanager
def conflict_on(messages: dict[str, object]):
    """Let the database decide uniqueness: an IntegrityError of one of the named unique
    constraints becomes a 409 `Conflict` with its message, anything else stays an error.

        with conflict_on({"resident_id_number_unique": _("身份证号已登记")}):
            Resident.objects.create(...)

    The block runs in a savepoint, so the caller's transaction stays usable after a
    conflict (to retry, or to answer 409). This replaces "exists() then insert", which
    two requests race through to a 500.
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        names = violated_constraints(exc)
        for name, message in messages.items():
            if name in names:
                raise Conflict(message, code="duplicate") from exc
        raise
