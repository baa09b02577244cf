"""{% filter_selects form %}: the list filters' `<select>`s (area, tag, status), written out
in Python. The template's loop over every option (a township's villages, the tags) was
the filters' time on each list and search; a test pins this to what the loop gave."""

from django import template
from django.utils.safestring import mark_safe

from ..labels import esc

register = template.Library()


@register.simple_tag
def filter_selects(form):
    out = []
    for f in form.filter_fields():
        value = f.value()
        chosen = "%s" % ("" if value is None else value)
        options = "".join(
            f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(text)}</option>'
            for v, text in f.field.choices
        )
        out.append(
            f'<label><span>{esc(f.label)}</span><select name="{esc(f.html_name)}" '
            f'id="{esc(f.id_for_label)}">{options}</select></label>'
        )
    return mark_safe("".join(out))  # noqa: S308 - every value went through esc()
