"""{% filter_selects %} writes the list filters' <select>s in Python: the same markup the
template loop gave, unbound and bound (the chosen option selected), names escaped."""

import pytest
from django.template import Context, Template
from django.utils import translation

from minqing.registry.forms import SearchForm
from minqing.registry.models import Tag
from minqing.registry.templatetags.search_filters import filter_selects

# the selects as the filters' template wrote them before
TEMPLATE_SELECTS = (
    '{% for f in form.filter_fields %}<label><span>{{ f.label }}</span><select name="'
    '{{ f.html_name }}" id="{{ f.id_for_label }}">{% with chosen=f.value|default_if_none:""'
    '|stringformat:"s" %}{% for value, text in f.field.choices %}<option value="{{ value }}"'
    "{% if value == chosen %} selected{% endif %}>{{ text }}</option>{% endfor %}{% endwith %}"
    "</select></label>{% endfor %}"
)


@pytest.mark.parametrize("households", [True, False])
def test_the_selects_are_what_the_template_gave(db, users, tree, households):
    tree.qixing.name = '七星<村>&"一"'
    tree.qixing.save()
    Tag.objects.create(code="odd", name="<b>危</b>&'", scope=Tag.Scope.HOUSEHOLD, order=1)
    child = tree.grids["七星村1"]
    for data in (None, {"grid_id": str(child.pk), "tag": "odd", "status": "living"}, {"q": "x"}):
        for language in ("zh-hans", "en"):
            with translation.override(language):
                form = SearchForm(data, user=users.township, households=households)
                want = Template(TEMPLATE_SELECTS).render(Context({"form": form}))
                got = filter_selects(form)
                assert got == want
    assert "&lt;b&gt;危&lt;/b&gt;" in got and "<b>" not in got
    form = SearchForm({"grid_id": str(child.pk), "tag": "odd"}, user=users.township)
    assert f'<option value="{child.pk}" selected>' in filter_selects(form)
    assert '<option value="odd" selected>' in filter_selects(form)
