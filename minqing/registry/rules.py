"""The field rules of the registry, in one place: 身份证号, phone, name, dates, relation.

Forms, services and the importer all call these, so a value the page accepts is the value
the import accepts, stored the same way. Each `clean_*` returns the stored value or raises
RuleError with a Chinese message; the importer's fast paths (a table-driven check digit, a
cache of parsed birth dates) live here too, next to the rule they must agree with.
"""

import re
from datetime import date, datetime

from django.utils.translation import gettext as _

from minqing.core.idcard import CHECK, PROVINCES, WEIGHTS, IdNumberError, parse_id_number
from minqing.core.tabular import half_width

from .models import Household, Relation, Resident, ResidentStatus


class RuleError(ValueError):
    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


MAX_NAME = Resident._meta.get_field("name").max_length
MAX_PHONE = Household._meta.get_field("phone").max_length

# ---------------------------------------------------------------- text


NEEDS_HALF_WIDTH = _NEEDS_HALF_WIDTH = re.compile("[\uff01-\uff5e\u3000]")


def clean_text(value) -> str:
    """Trimmed, full-width letters, digits and punctuation made half-width."""
    if value is None:
        return ""
    value = str(value)
    if _NEEDS_HALF_WIDTH.search(value) is not None:  # most cells have none: no translate
        value = half_width(value)
    return value.strip()


def clean_name(value) -> str:
    name = clean_text(value)
    if not name:
        raise RuleError(_("姓名为空"))
    if len(name) > MAX_NAME:
        raise RuleError(_("姓名超过 %(n)d 个字") % {"n": MAX_NAME})
    return name


# ---------------------------------------------------------------- phone

# A mobile (optionally +86 / 86), a landline with area code (and extension), or a local
# number of 7–8 digits (never starting with 0 or 1).
_PHONE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})|(0\d{2,3}-?\d{7,8}(?:-\d{1,6})?)|([2-9]\d{6,7})")
_PHONE_DROP = str.maketrans("", "", " -()")


def clean_phone(value) -> str:
    """The phone as stored: a mobile as its 11 digits, a landline as 区号-号码; '' when empty.
    Spaces, '-', '+86' and a numeric Excel cell (no '.0') are accepted."""
    if value.__class__ is str and len(value) == 11 and value.isdigit() and value[0] == "1":
        if value[1] in "3456789":  # a mobile as most ledgers write it, without a regex
            return value
    text = clean_text(value)
    if not text:
        return ""
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    compact = text.replace(" ", "")
    match = _PHONE.fullmatch(compact)
    if match is None:
        digits = compact.translate(_PHONE_DROP)
        match = _PHONE.fullmatch(digits)
        if match is None or not match.group(1):
            raise RuleError(
                _("电话号码格式不对:%(v)s(应为 11 位手机号、带区号的固定电话或 7–8 位号码)")
                % {"v": text[:30]}
            )
    if match.group(1):
        return match.group(1)
    if match.group(2):
        number = match.group(2)
        if "-" not in number:
            # 0731 52801234 -> area code of 3 (010, 02x) or 4 digits
            cut = 3 if number[1] in "12" else 4
            number = f"{number[:cut]}-{number[cut:]}"
        return number[:MAX_PHONE]
    return match.group(3)


# ---------------------------------------------------------------- 身份证号

_FLOAT_ID = re.compile(r"\d(?:\.\d+)?[eE]\+?\d+")
# The check digit from lookup tables of 3-digit chunks: the same result as
# core.idcard.check_digit, about five times faster (the importer runs it once per row).
_CHUNKS = [(i, min(i + 3, 17)) for i in range(0, 17, 3)]
_CHUNK_SUMS = [
    {
        f"{n:0{b - a}d}": sum(
            int(c) * w for c, w in zip(f"{n:0{b - a}d}", WEIGHTS[a:b], strict=True)
        )
        for n in range(10 ** (b - a))
    }
    for a, b in _CHUNKS
]


def fast_check_digit(first17: str) -> str:
    t0, t1, t2, t3, t4, t5 = _CHUNK_SUMS
    return CHECK[
        (
            t0[first17[0:3]]
            + t1[first17[3:6]]
            + t2[first17[6:9]]
            + t3[first17[9:12]]
            + t4[first17[12:15]]
            + t5[first17[15:17]]
        )
        % 11
    ]


def _birth(digits: str, today: date) -> date | None:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    return born if 1890 <= born.year and born <= today else None


class IdRule:
    """clean_id_number with a cache of birth dates: one instance per import."""

    def __init__(self, today: date | None = None):
        from django.utils import timezone

        self.today = today or timezone.localdate()
        self.births: dict[str, date | None] = {}

    def __call__(self, value) -> tuple[str, date, str]:
        """(stored number, birth date, gender "M"/"F")."""
        idn = clean_text(value).replace(" ", "").upper()
        if (
            len(idn) == 18
            and idn[:17].isdigit()
            and idn[:2] in PROVINCES
            and idn[2:6] != "0000"
            and (idn[17].isdigit() or idn[17] == "X")
        ):
            key = idn[6:14]
            birth = self.births.get(key, 0)
            if birth == 0:
                birth = self.births[key] = _birth(key, self.today)
            if birth is not None and fast_check_digit(idn[:17]) == idn[17]:
                return idn, birth, "M" if idn[16] in "13579" else "F"
        if not idn:
            raise RuleError(_("身份证号为空"))
        if _FLOAT_ID.fullmatch(idn) or (
            len(idn) == 18 and idn.isdigit() and idn.endswith("000") and _looks_rounded(idn)
        ):
            raise RuleError(
                _(
                    "身份证号 %(v)s 被 Excel 存成了数字,最后几位已经丢失:"
                    "请把这一列设为“文本”格式后重新输入完整号码"
                )
                % {"v": idn[:20]}
            )
        try:
            info = parse_id_number(idn, today=self.today)
        except IdNumberError as exc:
            raise RuleError(exc.message) from None
        return info.number, info.birth_date, info.gender


def _looks_rounded(idn: str) -> bool:
    """18 digits ending in 000 whose check digit fails: Excel's 15 significant digits."""
    return fast_check_digit(idn[:17]) != idn[17]


def clean_id_number(value, *, today: date | None = None) -> tuple[str, date, str]:
    return IdRule(today)(value)


# ---------------------------------------------------------------- dates

_DATE_TEXT = re.compile(r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?")
_MONTH_TEXT = re.compile(r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*月?")


def clean_date(value, *, month_only_ok: bool = True) -> date | None:
    """A date from an Excel date cell or text: 2001-03-05, 2001.3.5, 2001/3/5,
    2001年3月5日, 20010305 (and 2001年3月 / 2001.03 for 出生年月: the first of the month)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = clean_text(value)
    if not text:
        return None
    text = text.split(" ")[0] if re.fullmatch(r"\S+ \d{1,2}:\d{2}(:\d{2})?", text) else text
    try:
        if text.isdigit() and len(text) == 8:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        m = _DATE_TEXT.fullmatch(text)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = _MONTH_TEXT.fullmatch(text)
        if m and month_only_ok:
            return date(int(m[1]), int(m[2]), 1)
    except ValueError:
        pass
    raise RuleError(
        _("无法识别的日期:%(v)s(可写作 2001-03-05、2001.3.5、2001年3月5日)") % {"v": text[:20]}
    )


# ---------------------------------------------------------------- relation, status, gender

RELATION_WORDS = {
    Relation.HEAD: ("户主", "本人", "户主本人"),
    Relation.SPOUSE: ("配偶", "妻", "妻子", "夫", "丈夫", "老伴"),
    Relation.CHILD: (
        *("子女", "子", "女", "儿子", "女儿", "长子", "次子", "三子", "长女", "次女", "三女"),
        *("养子", "养女", "继子", "继女", "独生子", "独生女"),
    ),
    Relation.PARENT: ("父母", "父亲", "母亲", "父", "母", "公公", "婆婆", "岳父", "岳母"),
    Relation.GRANDCHILD: ("孙子女", "孙子", "孙女", "外孙", "外孙子", "外孙女"),
    Relation.GRANDPARENT: ("祖父母", "祖父", "祖母", "外祖父", "外祖母", "爷爷", "奶奶"),
    Relation.SIBLING: (
        *("兄弟姐妹", "兄", "弟", "姐", "妹", "哥哥", "弟弟", "姐姐", "妹妹", "兄弟", "姐妹"),
    ),
    Relation.CHILD_IN_LAW: ("儿媳/女婿", "儿媳", "女婿", "媳妇", "儿媳妇"),
    Relation.OTHER: ("其他", "其它", "亲属", "其他亲属"),
}
# Words that say the gender: a 女 cannot be 儿子.
MALE_WORDS = {"子", "儿子", "长子", "次子", "三子", "养子", "继子", "独生子", "夫", "丈夫"}
MALE_WORDS |= {"父", "父亲", "公公", "岳父", "孙子", "外孙子", "祖父", "外祖父", "爷爷"}
MALE_WORDS |= {"兄", "弟", "哥哥", "弟弟", "女婿"}
FEMALE_WORDS = {"女", "女儿", "长女", "次女", "三女", "养女", "继女", "独生女", "妻", "妻子"}
FEMALE_WORDS |= {"母", "母亲", "婆婆", "岳母", "孙女", "外孙女", "祖母", "外祖母", "奶奶"}
FEMALE_WORDS |= {"姐", "妹", "姐姐", "妹妹", "儿媳", "媳妇", "儿媳妇"}
STATUS_WORDS = {
    ResidentStatus.LIVING: ("", "在住", "在户", "正常", "现住", "常住", "在家"),
    ResidentStatus.MOVED_OUT: ("迁出", "已迁出", "外迁"),
    ResidentStatus.DECEASED: ("已故", "死亡", "去世", "已死亡", "死亡注销"),
}
GENDER_WORDS = {"男": "M", "女": "F", "M": "M", "F": "F", "男性": "M", "女性": "F"}


def _word_table(words: dict) -> dict[str, str]:
    table = {}
    for value, names in words.items():
        for name in (*names, value, value.label if hasattr(value, "label") else value):
            table[str(name).lower()] = str(value)
    return table


RELATIONS = _word_table(RELATION_WORDS)
STATUSES = _word_table(STATUS_WORDS)


def closest(word: str, choices, n: int = 3) -> str:
    """The closest valid values, listed for the user to pick from (never picked for them)."""
    import difflib

    near = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.0)
    return "、".join(near)


def clean_relation(value) -> str:
    from .search_keys import to_simplified

    text = clean_text(value).replace(" ", "")
    if not text:
        raise RuleError(_("与户主关系为空"))
    found = RELATIONS.get(text.lower()) or RELATIONS.get(to_simplified(text).lower())
    if found is None:
        raise RuleError(
            _("无法识别的与户主关系:%(v)s(最接近的写法:%(near)s)")
            % {"v": text[:20], "near": closest(text, [str(r.label) for r in Relation])}
        )
    return found


def clean_status(value) -> str:
    from .search_keys import to_simplified

    text = clean_text(value).replace(" ", "")
    found = STATUSES.get(text.lower()) or STATUSES.get(to_simplified(text).lower())
    if found is None:
        raise RuleError(_("无法识别的状态:%(v)s(应为 在住、迁出 或 已故)") % {"v": text[:20]})
    return found


def clean_gender(value) -> str:
    text = clean_text(value).upper()
    if not text:
        return ""
    found = GENDER_WORDS.get(text)
    if found is None:
        raise RuleError(_("无法识别的性别:%(v)s(应为 男 或 女)") % {"v": text[:10]})
    return found


def gender_digit_mismatch(id_number: str, gender: str, typed: str) -> str:
    """The message when 性别 disagrees with the 17th digit of the 身份证号, naming both."""
    return _("性别栏为“%(g)s”,身份证第17位为 %(d)s(%(should)s)") % {
        "g": typed,
        "d": id_number[16],
        "should": _("男") if gender == "M" else _("女"),
    }


def relation_gender_problem(word: str, gender: str) -> str:
    """'' or why a relation word (儿子, 妻子…) does not fit the gender the 身份证号 gives."""
    if (gender == "F" and word in MALE_WORDS) or (gender == "M" and word in FEMALE_WORDS):
        return _("与户主关系为“%(r)s”,但身份证号表明此人为%(g)s性") % {
            "r": word,
            "g": _("女") if gender == "F" else _("男"),
        }
    return ""


def relation_age_problem(relation: str, word: str, birth, head_birth) -> str:
    """'' or why a relation does not fit the ages: a child or grandchild cannot be born on
    or before the 户主's birth, a parent or grandparent on or after it (word: the relation
    as the user wrote it)."""
    if birth is None or head_birth is None:
        return ""
    if relation in (Relation.CHILD, Relation.GRANDCHILD) and birth <= head_birth:
        return _("与户主关系为“%(r)s”,但出生于 %(b)s,不晚于户主(%(h)s)") % {
            "r": word,
            "b": birth.year,
            "h": head_birth.year,
        }
    if relation in (Relation.PARENT, Relation.GRANDPARENT) and birth >= head_birth:
        return _("与户主关系为“%(r)s”,但出生于 %(b)s,不早于户主(%(h)s)") % {
            "r": word,
            "b": birth.year,
            "h": head_birth.year,
        }
    return ""


def as_validation(func, *args, **kwargs):
    """Call a rule from a service: RuleError becomes the service's ValidationFailed."""
    from minqing.core.errors import ValidationFailed

    try:
        return func(*args, **kwargs)
    except RuleError as exc:
        raise ValidationFailed(exc.message) from None
