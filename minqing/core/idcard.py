"""身份证号 (GB 11643-1999): 18 characters, region code, birth date, order, check digit."""

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
# First two digits: province-level region codes in use.
PROVINCES = {
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "81",
    "82",
}


@dataclass(frozen=True)
class IdInfo:
    number: str
    birth_date: date
    gender: str  # "M" or "F"


class IdNumberError(ValueError):
    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def check_digit(first17: str) -> str:
    return CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def normalize_id_number(value: str) -> str:
    return (value or "").strip().replace(" ", "").upper()


def parse_id_number(value: str, *, today: date | None = None) -> IdInfo:
    """Validate and return birth date and gender; the message names the part that is wrong."""
    number = normalize_id_number(value)
    if len(number) != 18:
        raise IdNumberError(_("身份证号应为 18 位，现为 %(n)d 位") % {"n": len(number)})
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdNumberError(_("身份证号前 17 位应为数字，最后一位为数字或 X"))
    if number[:2] not in PROVINCES or number[2:6] == "0000":
        raise IdNumberError(_("身份证号的地区码 %(code)s 不存在") % {"code": number[:6]})
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError(_("身份证号中的出生日期 %(d)s 不是有效日期") % {"d": number[6:14]})
    today = today or date.today()
    if birth > today or birth.year < 1890:
        raise IdNumberError(_("身份证号中的出生日期 %(d)s 不合理") % {"d": number[6:14]})
    expected = check_digit(number[:17])
    if number[17] != expected:
        raise IdNumberError(
            _("身份证号校验位错误：最后一位应为 %(e)s，而不是 %(g)s")
            % {"e": expected, "g": number[17]}
        )
    gender = "M" if int(number[16]) % 2 == 1 else "F"
    return IdInfo(number=number, birth_date=birth, gender=gender)


def make_id_number(region: str, birth: date, order: int) -> str:
    """A valid number for demo and test data (region: 6 digits, order: 0-999)."""
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    return first17 + check_digit(first17)
