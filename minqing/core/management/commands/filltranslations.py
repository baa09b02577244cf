"""Developer tool: refresh the catalogues and fill what a machine can fill.

1. `makemessages` for zh_Hant and en over the minqing package (needs GNU gettext).
2. zh_Hant: every empty or fuzzy msgstr becomes the OpenCC "s2twp" conversion of the
   source. s2twp (Simplified → Taiwan standard, with phrases) writes the glyphs that
   Taiwan and Hong Kong print (為, 裡, 群眾, not OpenCC's own 爲, 裏, 羣衆 from "s2t")
   and the UI words they know (登入, 使用者, 匯入/匯出, 選單, 設定, 搜尋), where "s2t"
   leaves mainland words (登錄, 用戶, 導入, 菜單, 設置) in traditional glyphs.
   A msgstr a person wrote is kept; fix a poor conversion by editing the .po.
3. en: translations are written by hand in the .po; this reports how many are missing.

The .mo files are built by `compiletranslations` (polib), which `make run/test` call.
"""

import os
import re
from pathlib import Path

import polib
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

LOCALES = ("zh_Hant", "en")
PLURAL_FORMS = {"zh_Hant": "nplurals=1; plural=0;", "en": "nplurals=2; plural=(n != 1);"}
LANGUAGE_NAMES = {"zh_Hant": "zh_Hant", "en": "en"}

# %(name)s, %s, %d, %% ... and Django's {name}; never handed to OpenCC.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifFeEgGxXorc%]|\{[^{}]*\}")
# s2twp turns some words into their software sense (代码 → 程式碼 "program code",
# 对象 → 物件 "OOP object"); in a governance application they keep their plain sense.
S2TWP_FIXES = {
    "程式碼": "代碼",  # 区划代码, 统一社会信用代码
    "型別": "類型",
    "物件": "對象",
    "社群": "社區",  # 村/社区
    "迴圈": "循環",
    "賬號": "帳號",
    "賬戶": "帳戶",
    "釋出": "發布",
    "下劃線": "底線",
    "自定義": "自訂",
}
HEADERS = {
    "zh_Hant": "Minqing 民情: Traditional Chinese (zh-hant) catalogue.\n"
    "Empty and fuzzy entries are filled by `manage.py filltranslations` (OpenCC s2twp);\n"
    "a msgstr edited by hand is kept.",
    "en": "Minqing 民情: English catalogue, translated by hand.\n"
    "`manage.py filltranslations` adds new msgids and lists those still to translate.",
}


def placeholders(text: str) -> list[str]:
    """The python-format placeholders of a string, sorted (%% excluded)."""
    return sorted(p for p in PLACEHOLDER.findall(text) if p != "%%")


class Converter:
    def __init__(self, config: str = "s2twp"):
        import opencc

        self._cc = opencc.OpenCC(config)

    def __call__(self, text: str) -> str:
        """Convert the text between placeholders, so %(name)s survives untouched."""
        out, pos = [], 0
        for m in PLACEHOLDER.finditer(text):
            out.append(self._convert(text[pos : m.start()]))
            out.append(m.group(0))
            pos = m.end()
        out.append(self._convert(text[pos:]))
        return "".join(out)

    def _convert(self, chunk: str) -> str:
        if not chunk:
            return chunk
        result = self._cc.convert(chunk)
        for wrong, right in S2TWP_FIXES.items():
            result = result.replace(wrong, right)
        return result


def needs_text(entry: polib.POEntry) -> bool:
    if "fuzzy" in entry.flags:
        return True
    if entry.msgid_plural:
        return not entry.msgstr_plural or not all(entry.msgstr_plural.values())
    return not entry.msgstr


def clear_fuzzy(entry: polib.POEntry) -> None:
    if "fuzzy" in entry.flags:
        entry.flags.remove("fuzzy")
    entry.previous_msgid = None
    entry.previous_msgid_plural = None
    entry.previous_msgctxt = None


def fix_header(po: polib.POFile, locale: str) -> None:
    po.metadata_is_fuzzy = False
    po.header = HEADERS[locale]
    po.metadata.update(
        {
            "Project-Id-Version": "minqing",
            "Language": LANGUAGE_NAMES[locale],
            "MIME-Version": "1.0",
            "Content-Type": "text/plain; charset=UTF-8",
            "Content-Transfer-Encoding": "8bit",
            "Plural-Forms": PLURAL_FORMS[locale],
        }
    )
    for key in ("Report-Msgid-Bugs-To", "Language-Team", "Last-Translator"):
        if "FULL NAME" in po.metadata.get(key, "") or "LANGUAGE" in po.metadata.get(key, ""):
            po.metadata.pop(key)


def fill_zh_hant(po: polib.POFile, convert) -> int:
    filled = 0
    for entry in po:
        if entry.obsolete or not needs_text(entry):
            continue
        if entry.msgid_plural:
            # Chinese has one form; the plural msgid carries every placeholder.
            entry.msgstr_plural = {0: convert(entry.msgid_plural)}
        else:
            entry.msgstr = convert(entry.msgid)
        clear_fuzzy(entry)
        filled += 1
    return filled


def missing(po: polib.POFile) -> list[polib.POEntry]:
    return [e for e in po if not e.obsolete and needs_text(e)]


def bad_placeholders(po: polib.POFile) -> list[polib.POEntry]:
    """Entries whose translation lost or invented a python-format placeholder."""
    bad = []
    for e in po:
        if e.obsolete or needs_text(e):
            continue
        if e.msgid_plural:
            allowed = set(placeholders(e.msgid)) | set(placeholders(e.msgid_plural))
            forms = list(e.msgstr_plural.values())
            ok = all(set(placeholders(f)) <= allowed for f in forms) and (
                set(placeholders(forms[-1])) == set(placeholders(e.msgid_plural))
            )
        else:
            ok = placeholders(e.msgstr) == placeholders(e.msgid)
        if not ok:
            bad.append(e)
    return bad


class Command(BaseCommand):
    help = "makemessages for zh_Hant and en, fill zh_Hant with OpenCC, report missing en."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-extract",
            action="store_true",
            help="Skip makemessages (no gettext needed); only fill and report.",
        )

    def handle(self, *args, **options):
        locale_dir = Path(settings.LOCALE_PATHS[0])
        package_dir = locale_dir.parent
        if not options["no_extract"]:
            self._extract(package_dir, locale_dir)
        convert = Converter("s2twp")
        problems = 0
        for locale in LOCALES:
            path = locale_dir / locale / "LC_MESSAGES" / "django.po"
            if not path.exists():
                raise CommandError(f"{path} is missing; run without --no-extract")
            po = polib.pofile(str(path), wrapwidth=0)
            fix_header(po, locale)
            for e in po:
                if "fuzzy" not in e.flags:
                    clear_fuzzy(e)  # "#| previous msgid" lines only mean something on fuzzy ones
            if locale == "zh_Hant":
                filled = fill_zh_hant(po, convert)
                self.stdout.write(f"zh_Hant: {len(po)} strings, {filled} filled with OpenCC s2twp")
                if filled:
                    po.metadata["PO-Revision-Date"] = timezone.now().strftime("%Y-%m-%d %H:%M%z")
            else:
                todo = missing(po)
                self.stdout.write(f"en: {len(po)} strings, {len(todo)} missing or fuzzy")
                if todo:
                    self.stderr.write(
                        self.style.WARNING(
                            f"WARNING: {len(todo)} English string(s) to translate in {path}:"
                        )
                    )
                    for e in todo:
                        self.stderr.write(f"  {e.msgid!r}")
            for e in bad_placeholders(po):
                problems += 1
                self.stderr.write(
                    self.style.ERROR(f"{locale}: placeholders differ: {e.msgid!r} → {e.msgstr!r}")
                )
            po.save(str(path))
        if problems:
            raise CommandError(f"{problems} translation(s) with mismatched placeholders")

    def _extract(self, package_dir: Path, locale_dir: Path) -> None:
        """makemessages over the package only (not node_modules, var/, bench/)."""
        for locale in LOCALES:
            (locale_dir / locale / "LC_MESSAGES").mkdir(parents=True, exist_ok=True)
        cwd = os.getcwd()
        os.chdir(package_dir)
        try:
            call_command(
                "makemessages",
                locale=list(LOCALES),
                domain="django",
                no_obsolete=True,
                no_wrap=True,
                add_location="file",
                ignore_patterns=["static/*", "*/tests/*", "conftest.py"],
                verbosity=0,
            )
        finally:
            os.chdir(cwd)
