"""Search keys of a resident, computed once when a row is written (services, import,
generator): 繁→简 name, full pinyin, initials, id and phone tails.

Pinyin is looked up per character from a cache, so a million-row import stays fast;
polyphonic surnames take their surname reading (曾 zeng, 单 shan, 解 xie...).
"""

import re
from dataclasses import dataclass
from functools import lru_cache

import opencc
from pypinyin import Style, lazy_pinyin

from minqing.core.idcard import IdNumberError, parse_id_number
from minqing.core.masking import phone_visible_tail

_T2S = opencc.OpenCC("t2s")
_S2T = opencc.OpenCC("s2t")

SURNAME_READINGS = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "区": "ou",
    "盖": "ge",
    "乐": "yue",
    "覃": "qin",
    "翟": "zhai",
    "缪": "miao",
    "尉": "yu",
    "召": "shao",
    "纪": "ji",
    "种": "chong",
    "繁": "po",
    "员": "yun",
    "黑": "he",
    "万俟": "mo qi",
    "尉迟": "yu chi",
    "长孙": "zhang sun",
    "重": "chong",
    "柏": "bai",
    "过": "guo",
    "隗": "wei",
    "秘": "bi",
    "沈": "shen",
    "贾": "jia",
}


@lru_cache(maxsize=65536)
def to_simplified(text: str) -> str:
    return _T2S.convert(text) if text else ""


@lru_cache(maxsize=4096)
def to_traditional(text: str) -> str:
    return _S2T.convert(text) if text else ""


@lru_cache(maxsize=65536)
def _char_pinyin(char: str) -> str:
    result = lazy_pinyin(char, style=Style.NORMAL, errors="ignore")
    return result[0].lower() if result else (char.lower() if char.isascii() else "")


_SURNAME_LENGTHS = sorted({len(s) for s in SURNAME_READINGS}, reverse=True)


def name_pinyin(simplified_name: str) -> list[str]:
    """Syllables of a (simplified) name, surname reading first."""
    name = simplified_name.replace(" ", "").replace("·", "")
    for k in _SURNAME_LENGTHS:  # the longest listed surname the name starts with
        surname = name[:k]
        if len(name) > k and surname in SURNAME_READINGS:
            rest = [_char_pinyin(c) for c in name[k:]]
            return [*SURNAME_READINGS[surname].split(), *[p for p in rest if p]]
    return [p for p in (_char_pinyin(c) for c in name) if p]


def name_keys(name: str) -> tuple[str, str, str]:
    """(simplified name, pinyin 'zhangdeshu', initials 'zds')."""
    norm = to_simplified(name.strip())
    syllables = name_pinyin(norm)
    return norm, "".join(syllables), "".join(s[0] for s in syllables if s)


class NameKeys:
    """name_keys for the many names of an import: the same values, with the pinyin of each
    surname and given name worked out once (a name's pinyin is its surname's reading and
    then one syllable a character, so it is put together from the two parts)."""

    def __init__(self):
        self._parts: dict[str, tuple[str, str]] = {}
        self._listed = {s[0] for s in SURNAME_READINGS}  # first characters
        self._convert = _T2S.convert

    def _part(self, text: str) -> tuple[str, str]:
        found = self._parts.get(text)
        if found is None:
            syllables = [p for p in map(_char_pinyin, text) if p]
            found = self._parts[text] = ("".join(syllables), "".join(s[0] for s in syllables))
        return found

    def __call__(self, name: str) -> tuple[str, str, str]:
        text = name.strip()
        norm = self._convert(text) if text else ""
        compact = norm
        if " " in compact or "·" in compact:
            compact = compact.replace(" ", "").replace("·", "")
        if compact[:1] in self._listed:
            for k in _SURNAME_LENGTHS:
                surname = compact[:k]
                if len(compact) > k and surname in SURNAME_READINGS:
                    syllables = SURNAME_READINGS[surname].split()
                    pinyin, initials = self._part(compact[k:])
                    return (
                        norm,
                        "".join(syllables) + pinyin,
                        "".join(s[0] for s in syllables) + initials,
                    )
        parts = self._parts
        first, rest = compact[:1], compact[1:]
        p1 = parts.get(first) or self._part(first)
        p2 = parts.get(rest) or self._part(rest)
        return norm, p1[0] + p2[0], p1[1] + p2[1]


def id_tail(id_number: str) -> str:
    return id_number[-6:]


def phone_tail(phone: str) -> str:
    """The tail a phone search matches by equality: exactly the digits its mask shows
    (core.masking.phone_visible_tail), empty when the mask shows fewer than four."""
    return phone_visible_tail(phone)


# ---------------------------------------------------------------- what a search asks for

MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
TAIL_RE = re.compile(r"^[0-9]{4}$")


@dataclass(frozen=True)
class NumberQuery:
    """A digits query, read the one way the masking policy allows (core.masking):
    `tail`: exactly the four phone digits a mask shows; `id_number` / `phone`: a full
    number, i.e. an identity lookup (permission and audit in the selectors). Nothing
    else matches people by number: no "ends with", no substring of hidden digits."""

    tail: str = ""
    id_number: str = ""
    phone: str = ""

    @property
    def identity(self) -> bool:
        return bool(self.id_number or self.phone)


def number_query(q: str) -> NumberQuery | None:
    """None when q is not a number; else what it may match (all empty: nothing personal,
    e.g. a household number or a partial ID)."""
    compact = q.replace(" ", "").replace("-", "")
    if (
        not compact
        or not compact[:-1].isdigit()
        or not (compact[-1].isdigit() or compact[-1] in "Xx")
    ):
        return None
    if len(compact) == 18:
        try:
            return NumberQuery(id_number=parse_id_number(compact).number)
        except IdNumberError:
            return NumberQuery()
    if not compact.isdigit():
        return NumberQuery()
    if TAIL_RE.match(compact):
        return NumberQuery(tail=compact)
    if MOBILE_RE.match(compact):
        return NumberQuery(phone=compact)
    return NumberQuery()
