"""{% visit_items visits %}: the household page's visits (visits.sections.section_visits),
written out in Python.

Twenty visits through the template engine (a variable lookup, a filter and an autoescape
per value, a `date` and a `linebreaksbr` per visit and note) were the largest part of the
household page's template time; this builds the same markup with each value escaped once.
A test pins it to what the template (`visits/_visit_items.html` until perf7b) gave."""

from html import escape

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils import timezone
from django.utils.safestring import SafeData, mark_safe
from django.utils.translation import gettext

register = template.Library()


def _esc(value) -> str:
    """conditional_escape without a SafeString per call (as core's audit_rows)."""
    if isinstance(value, SafeData):
        return str(value)
    return escape(str(value))


def _minute(at, tz) -> str:
    """`date:"Y-m-d H:i"` in the current time zone ("" for no time, as the filter)."""
    if at is None:
        return ""
    t = at.astimezone(tz)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"


def _visit(v, tz, l_met, l_note, l_visitors) -> str:
    out = [
        f'<li class="visit-item">\n  <div><a href="{_esc(v.url)}"><strong>'
        f"{_minute(v.visited_at, tz)}</strong></a>\n    "
    ]
    if v.place:
        out.append(f'<span class="muted">· {_esc(v.place)}</span>')
    out.append("\n  </div>\n  ")
    if v.met_names or v.met_others:
        met = "、".join(_esc(name) for name in v.met_names)
        both = "、" if v.met_names and v.met_others else ""
        out.append(
            f'<div class="muted"><small>{l_met}:{met}{both}{_esc(v.met_others)}</small></div>'
        )
    out.append(f'\n  <div class="situation">{linebreaksbr(v.situation, autoescape=True)}</div>\n  ')
    if v.photos_shown:
        out.append('<div class="photos">')
        for p in v.photos_shown:
            url = _esc(p["url"])
            out.append(
                f'<a href="{url}"><img src="{url}" alt="{_esc(p["name"])}" loading="lazy"></a>'
            )
        out.append("</div>")
    out.append("\n  ")
    for f in v.findings_shown:
        resident = f"({_esc(f['resident'])})" if f["resident"] else ""
        out.append(
            f'<span class="badge finding-{_esc(f["kind"])}">{_esc(f["label"])}:'
            f"{_esc(f['text'])}{resident}</span>"
        )
    out.append("\n  ")
    for n in v.notes_shown:
        out.append(
            f'<div class="note"><small class="muted">{l_note} {_minute(n["at"], tz)} '
            f"{_esc(n['author'])}</small>:{linebreaksbr(n['text'], autoescape=True)}</div>"
        )
    visitors = "、".join(_esc(name) for name in v.visitor_names)
    out.append(f'\n  <div><small class="muted">{l_visitors}:{visitors}</small></div>\n</li>')
    return "".join(out)


@register.simple_tag
def visit_items(visits):
    tz = timezone.get_current_timezone()
    l_met, l_note, l_visitors = (_esc(gettext(w)) for w in ("见到", "补记", "走访人"))
    if not visits:
        items = f'<li class="muted">{_esc(gettext("还没有走访记录"))}</li>'
    else:
        items = "".join(_visit(v, tz, l_met, l_note, l_visitors) for v in visits)
    # every value went through _esc or linebreaksbr (which escapes)
    return mark_safe(f'<ol class="visit-items">\n{items}\n</ol>\n')  # noqa: S308
