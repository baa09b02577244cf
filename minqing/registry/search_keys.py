"""Search keys of a resident, computed once when a row is written (services, import,
generator): 繁→简 name, full pinyin, initials, id and phone tails.

Pinyin is looked up per character from a cache, so a million-row import stays fast;
polyphonic surnames take their surname reading (曾 zeng, 单 shan, 解 xie...).
"""

from functools import lru_cache

import opencc
from pypinyin import Style, lazy_pinyin

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


def name_pinyin(simplified_name: str) -> list[str]:
    """Syllables of a (simplified) name, surname reading first."""
    name = simplified_name.replace(" ", "").replace("·", "")
    for surname in sorted(SURNAME_READINGS, key=len, reverse=True):
        if name.startswith(surname) and len(name) > len(surname):
            rest = [_char_pinyin(c) for c in name[len(surname) :]]
            return [*SURNAME_READINGS[surname].split(), *[p for p in rest if p]]
    return [p for p in (_char_pinyin(c) for c in name) if p]


def name_keys(name: str) -> tuple[str, str, str]:
    """(simplified name, pinyin 'zhangdeshu', initials 'zds')."""
    norm = to_simplified(name.strip())
    syllables = name_pinyin(norm)
    return norm, "".join(syllables), "".join(s[0] for s in syllables if s)


def id_tail(id_number: str) -> str:
    return id_number[-6:]


def phone_tail(phone: str) -> str:
    digits = "".join(c for c in phone or "" if c.isdigit())
    return digits[-4:]
