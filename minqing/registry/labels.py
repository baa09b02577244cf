"""Choice labels of the registry's fields, translated once per process and language.

`resident.get_relation_display()` rebuilds the field's choices on every call and hashes
each lazy label (a translation per choice): a list page called it a few times per row,
hundreds of translations per request. The rows take their labels from here instead."""

from html import escape as _html_escape

from django.utils.translation import get_language

_labels: dict = {}


def choice_labels(model, field_name: str) -> dict:
    """The field's labels by value in the current language, built once per field and
    language (do not change the dict)."""
    key = (model, field_name, get_language())
    labels = _labels.get(key)
    if labels is None:
        choices = model._meta.get_field(field_name).flatchoices
        labels = _labels[key] = {k: str(v) for k, v in choices}
    return labels


def choice_label(model, field_name: str, value):
    """What `obj.get_<field_name>_display()` gives for `value` (the value itself when it is
    not one of the choices), from a dict built once per field and language."""
    return choice_labels(model, field_name).get(value, value)


def esc(value) -> str:
    """What `conditional_escape(value)` gives (format_html escapes each argument so), for
    the rows written in Python: without Django's lazy-aware wrappers, which were most of
    the rows' time (tens of calls per row)."""
    html = getattr(value, "__html__", None)
    if html is not None:
        return html()
    return _html_escape(str(value))


def tag_badges(periods) -> str:
    """The badges of a row's current tags (household tags marked `household`), as the
    list templates wrote them; "" when there are none."""
    if not periods:
        return ""
    badges = "".join(
        f'<span class="badge{"" if p.resident_id else " household"}">{esc(p.tag.name)}</span>'
        for p in periods
    )
    return f'<span class="tags">{badges}</span>'
