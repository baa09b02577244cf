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

from django.template.context import make_context
from django.template.loader import get_template
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
    `obj` (also as `name`) and `title`.

    One request context for all of them: the context processors (the page shell, CSRF...)
    run once, not once per section as a render_to_string each did; each section's own
    values are pushed for its render and popped after, as a fresh context would have them."""
    wanted = []
    for s in registered_sections(page):
        ctx = s.context(request, obj)
        if ctx is not None:
            wanted.append((s, ctx))
    if not wanted:
        return []
    templates = [get_template(s.template) for s, _ctx in wanted]
    first = templates[0]
    context = make_context(None, request, autoescape=first.backend.engine.autoescape)
    out = []
    with context.bind_template(first.template):
        for (s, ctx), template in zip(wanted, templates, strict=True):
            with context.push({**ctx, "obj": obj, name: obj, "title": s.title}):
                html = template.template.render(context)
            out.append({"title": s.title, "template": s.template, "html": html})
    return out


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover_modules("sections")
