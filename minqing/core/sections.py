"""Page sections any app adds to any page, without editing the page's app.

    register_section("appeals.detail", title=_("走访记录"), template="visits/_appeal.html",
                     context=lambda request, obj: {...} or None, order=20)

Each app's `sections.py` is imported the first time a page asks for its sections. The
context callable gets (request, obj) — obj was already looked up through its scope — and
returns a dict, or None to leave the section out. (The household page keeps its own
`registry.sections` for now; it is the same idea and can move onto this module.)
"""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class Section:
    page: str
    title: object
    template: str
    context: object
    order: int


_SECTIONS: dict[str, list[Section]] = {}
_discovered = False


def register_section(page: str, *, title, template: str, context, order: int = 100) -> None:
    sections = _SECTIONS.setdefault(page, [])
    if any(s.template == template for s in sections):
        return
    sections.append(Section(page, title, template, context, order))
    sections.sort(key=lambda s: s.order)


def page_sections(page: str, request, obj) -> list[dict]:
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover_modules("sections")
    out = []
    for s in _SECTIONS.get(page, []):
        ctx = s.context(request, obj)
        if ctx is None:
            continue
        html = render_to_string(s.template, {**ctx, "obj": obj, "title": s.title}, request)
        out.append({"title": s.title, "html": html})
    return out
