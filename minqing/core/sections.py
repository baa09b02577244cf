"""Page sections any app adds to any page, without editing the page's app: the one section
machinery (the household page, the appeal page...).

    register_section("registry.household", title=_("走访记录"),
                     template="visits/_household_section.html",
                     context=lambda request, household: {...} or None, order=20)

Each app's `sections.py` is imported the first time a page asks for its sections. The
context callable gets (request, obj) — obj was already looked up through its scope — and
returns a dict, or None to leave the section out (e.g. a role that may not see it). The
template is rendered with that dict plus `obj`, the page's own name for it (`household` on
the household page) and `title`, inside a card under the title.

Pages: "registry.household" (obj: the household), "appeals.detail" (obj: the appeal).
"""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class Section:
    page: str
    title: object
    template: str
    context: object  # callable(request, obj) -> dict | None
    order: int


_SECTIONS: dict[str, list[Section]] = {}
_discovered = False


def register_section(page: str, *, title, template: str, context, order: int = 100) -> None:
    """Add a section to a page; registering the same template twice keeps the first."""
    sections = _SECTIONS.setdefault(page, [])
    if any(s.template == template for s in sections):
        return
    sections.append(Section(page, title, template, context, order))
    sections.sort(key=lambda s: s.order)


def registered_sections(page: str) -> list[Section]:
    _discover()
    return list(_SECTIONS.get(page, []))


def page_sections(page: str, request, obj, *, name: str = "obj") -> list[dict]:
    """The sections of one page, in order, each rendered to HTML with its own context plus
    `obj` (also as `name`) and `title`."""
    out = []
    for s in registered_sections(page):
        ctx = s.context(request, obj)
        if ctx is None:
            continue
        html = render_to_string(
            s.template, {**ctx, "obj": obj, name: obj, "title": s.title}, request
        )
        out.append({"title": s.title, "template": s.template, "html": html})
    return out


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover_modules("sections")
