"""Password rules on top of Django's (length, common, digit-only, similar to the user):
a password may not contain the username, nor be a phone number."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# A mainland mobile number, with or without +86/0086 and separators.
_PHONE = re.compile(r"^(?:\+?86|0086)?1[3-9]\d{9}$")


class NoUsernameValidator:
    """Refuses a password that contains the username (any case), e.g. `zhangsan2024`."""

    def validate(self, password, user=None):
        username = (getattr(user, "username", "") or "").strip().lower()
        if len(username) >= 3 and username in (password or "").lower():
            raise ValidationError(_("密码不能包含用户名。"), code="password_has_username")

    def get_help_text(self):
        return _("密码不能包含用户名。")


class NoPhoneNumberValidator:
    """Refuses a password that is a phone number (the user's or anyone's) or contains the
    user's own phone number: phone numbers are known to colleagues and printed on lists."""

    def validate(self, password, user=None):
        compact = re.sub(r"[\s\-()]", "", password or "")
        own = re.sub(r"\D", "", getattr(user, "phone", "") or "")
        if _PHONE.match(compact) or (len(own) >= 7 and own in compact):
            raise ValidationError(_("密码不能是手机号。"), code="password_is_phone")

    def get_help_text(self):
        return _("密码不能是手机号。")
