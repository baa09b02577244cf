"""The one masking policy for personal data: 身份证号, phone numbers, birth date and what
is derived from them. Pages, API, exports, search and the audit log all call this module.

The promise: without an audited reveal, everything a user can see, export or search about
a person leaves at least 10,000 candidates for their 身份证号 and their phone.

Why the ID mask shows the region code and nothing else, and people show an age, not a date:
an 18-character ID is region (6) + birth date (8) + order (3, the last one odd for men) +
check digit (1, computed from the other 17). The region is no secret (it is mostly the
area's own code). Once the birth date is known to the year, what is left to guess is the
order: 500 values for a known gender, and the check digit follows from them. So:

- showing the full birth date (as the registry did) leaves 500 candidates, and with the
  last four characters of the ID one: the ID is rebuilt;
- showing the last four (order + check) and hiding every date still leaves only the
  birth date: about 49,000 days since 1890, of which the check digit keeps 1 in 11, some
  4,500 candidates, below the bar;
- showing the age (a 365-day window) and no digit after the region leaves
  365 x 500 = ~182,000 candidates, and cadres keep what their work needs: age and gender
  (elderly, children, 适龄...).

So the mask keeps the region code only, pages/API/exports give `age` instead of the birth
date, lists sort by age rather than by birth date, and the full number (birth date
included) comes only from the audited reveal. The same holds for every role, also those
allowed to reveal: a reveal they can rebuild from the screen would go unaudited.

Phones: an 11-digit mobile shows its first three and last four digits (138****5678):
10^4 candidates, the bar. Shorter numbers (landlines without area code) show only their
last two, so that at least four digits always stay hidden.

Search matches exactly what the mask shows (the last four phone digits) or a full number;
a full-number search is an identity lookup, for the roles allowed to reveal, and audited
(registry/selectors.py). No "ends with" or "contains" on hidden digits.

The audit log never stores a full number: `scrub` masks any ID- or phone-shaped text in
an event's detail (e.g. an export filtered by a full ID).
"""

import re
from datetime import date

ID_VISIBLE_PREFIX = 6  # the region code
PHONE_VISIBLE_PREFIX = 3
PHONE_VISIBLE_TAIL = 4
PHONE_MIN_HIDDEN = 4  # 10^4 candidates at least

# An 18-character ID (17 digits and a digit or X), not part of a longer number
# (household numbers are 19 digits, area codes 12, grid codes 15).
_ID_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
# A mainland mobile number (11 digits starting 1[3-9]), not part of a longer number.
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def mask_id_number(value: str | None) -> str:
    """430302************: the region code stays; birth date, order and check are hidden."""
    if not value:
        return ""
    value = value.strip()
    if len(value) <= ID_VISIBLE_PREFIX + 4:
        return "*" * len(value)
    return value[:ID_VISIBLE_PREFIX] + "*" * (len(value) - ID_VISIBLE_PREFIX)


def _phone_shows_tail(digits: str) -> bool:
    return len(digits) - PHONE_VISIBLE_PREFIX - PHONE_VISIBLE_TAIL >= PHONE_MIN_HIDDEN


def mask_phone(value: str | None) -> str:
    """138****5678; a number too short to hide four digits that way shows its last two."""
    if not value:
        return ""
    digits = value.strip()
    if _phone_shows_tail(digits):
        return (
            digits[:PHONE_VISIBLE_PREFIX]
            + "*" * (len(digits) - PHONE_VISIBLE_PREFIX - PHONE_VISIBLE_TAIL)
            + digits[-PHONE_VISIBLE_TAIL:]
        )
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def phone_visible_tail(value: str | None) -> str:
    """The digits at the end of a phone that its mask shows (what search may match):
    the last four of a number long enough, else nothing."""
    raw = (value or "").strip()
    if not _phone_shows_tail(raw):
        return ""
    digits = raw if raw.isdigit() else "".join(c for c in raw if c.isdigit())
    return digits[-PHONE_VISIBLE_TAIL:]


def age_on(birth: date | None, day: date) -> int | None:
    """Age in full years on `day`: what is shown instead of the birth date."""
    if birth is None:
        return None
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def scrub_text(text: str) -> str:
    """Mask every ID- or mobile-shaped number inside free text."""
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)


def scrub(value):
    """`scrub_text` through a JSON-like structure (an audit event's detail)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value
