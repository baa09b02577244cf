"""The zh-hant and en catalogues are complete, keep their placeholders, and are used."""

from io import StringIO
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from minqing.core.management.commands.filltranslations import (
    Converter,
    bad_placeholders,
    fill_zh_hant,
    missing,
    placeholders,
)

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
CATALOGUES = ["zh_Hant", "en"]


def catalogue(locale: str) -> polib.POFile:
    return polib.pofile(str(LOCALE_DIR / locale / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("locale", CATALOGUES)
def test_every_msgid_has_a_translation(locale):
    po = catalogue(locale)
    assert len(po) > 100
    untranslated = [
        e.msgid
        for e in po
        if not e.obsolete
        and (
            "fuzzy" in e.flags
            or (not all(e.msgstr_plural.values()) if e.msgid_plural else not e.msgstr)
        )
    ]
    assert untranslated == [], f"run `manage.py filltranslations` and translate: {untranslated}"


@pytest.mark.parametrize("locale", CATALOGUES)
def test_python_format_placeholders_match(locale):
    po = catalogue(locale)
    assert [e.msgid for e in po if "python-format" in e.flags]  # the check has something to see
    assert [(e.msgid, e.msgstr) for e in bad_placeholders(po)] == []


@pytest.mark.parametrize("locale,nplurals", [("zh_Hant", 1), ("en", 2)])
def test_plural_forms_header(locale, nplurals):
    po = catalogue(locale)
    assert po.metadata["Plural-Forms"].startswith(f"nplurals={nplurals};")
    for e in po:
        if e.msgid_plural:
            assert len(e.msgstr_plural) == nplurals


def test_placeholders_are_found():
    assert placeholders("区域 %(a)s 第 %(n)d 行 100%% %s") == ["%(a)s", "%(n)d", "%s"]
    assert placeholders("Area %(a)s row") != placeholders("区域 %(b)s")


def test_converter_keeps_placeholders_and_writes_taiwan_words():
    convert = Converter("s2twp")
    assert convert("用户名 %(name)s 已被使用") == "使用者名稱 %(name)s 已被使用"
    assert convert("区划代码 %(code)s") == "區劃代碼 %(code)s"  # not 程式碼
    assert convert("登录") == "登入"


def test_fill_keeps_human_text_and_replaces_empty_and_fuzzy():
    po = polib.POFile()
    po.append(polib.POEntry(msgid="用户", msgstr="用戶"))  # a person chose this: kept
    po.append(polib.POEntry(msgid="登录", msgstr=""))
    po.append(
        polib.POEntry(msgid="审计日志", msgstr="猜的", flags=["fuzzy"], previous_msgid="审计")
    )
    po.append(
        polib.POEntry(
            msgid="共 %(n)s 条",
            msgid_plural="共 %(n)s 条",
            msgstr_plural={0: ""},
            flags=["python-format"],
        )
    )
    assert len(missing(po)) == 3
    assert fill_zh_hant(po, Converter("s2twp")) == 3
    assert [e.msgstr for e in po][:3] == ["用戶", "登入", "審計日誌"]
    assert po[2].flags == [] and po[2].previous_msgid is None
    assert po[3].msgstr_plural == {0: "共 %(n)s 條"}
    assert missing(po) == [] and bad_placeholders(po) == []


@pytest.fixture
def compiled_catalogues():
    """Build the .mo files (as `make test` does) and make Django reload them."""
    call_command("compiletranslations", stdout=StringIO())
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
        yield


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language,present,absent",
    [
        ("zh-hant", ["登入", "使用者名稱", "密碼"], ["登录", "用户名"]),
        ("en", ["Log in", "Username", "Password"], ["登录", "用户名"]),
        ("zh-hans", ["登录", "用户名", "密码"], ["登入", "Log in"]),
    ],
)
def test_login_page_in_each_language(client, compiled_catalogues, language, present, absent):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get("/login/").content.decode()
    for text in present:
        assert text in html
    for text in absent:
        assert text not in html
