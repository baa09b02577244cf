"""Words for the audit actions core itself writes (see core.audit.register_action)."""

from django.utils.translation import gettext_lazy as _

from .audit import register_action

register_action("admin.add", _("后台新增"))
register_action("admin.change", _("后台修改"))
register_action("admin.delete", _("后台删除"))
register_action("import.failed", _("导入未通过"))
