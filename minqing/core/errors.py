"""One application error hierarchy, turned into a response in one place (api.py, views)."""

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
