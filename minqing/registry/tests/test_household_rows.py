"""{% household_rows %} writes the household list's rows in Python: the same markup the
template loop gave, every value escaped, one badge per tag."""

from types import SimpleNamespace

from django.template import Context, Template
from django.utils import translation

from minqing.areas.models import Area
from minqing.registry.models import Household, Resident
from minqing.registry.templatetags.household_rows import household_rows
from minqing.registry.views import HouseholdRow

# the rows as the list's template wrote them before
TEMPLATE_ROWS = (
    '{% load i18n %}{% trans "户编号" as l_number %}{% trans "网格" as l_grid %}'
    '{% trans "在住" as l_living %}{% trans "重点人群" as l_tags %}{% trans "人" as l_people %}'
    "{% trans \"匹配成员：\" as l_matched %}{% url 'registry:households' as base %}"
    '{% for h in rows %}<tr><td class="lead"><a href="{{ base }}{{ h.pk }}/"><strong>'
    '{{ h.name }}</strong></a>{% if h.address %} <span class="addr">· {{ h.address }}</span>'
    '{% endif %}{% if h.matched %}<div class="matched">{{ l_matched }}{% for r in h.matched %}'
    "{{ r.name }}（{{ r.get_relation_display }}）{% if not forloop.last %}、{% endif %}"
    '{% endfor %}</div>{% endif %}</td><td data-label="{{ l_number }}" class="nowrap">'
    '<small class="hh-number">{{ h.number }}</small></td><td data-label="{{ l_grid }}">'
    '{{ h.grid.name }}</td><td data-label="{{ l_living }}">{{ h.living_count }} {{ l_people }}'
    '</td><td data-label="{{ l_tags }}">{% if h.tag_badges %}<span class="tags">'
    '{% for p in h.tag_badges %}<span class="badge{% if not p.resident_id %} household'
    '{% endif %}">{{ p.tag.name }}</span>{% endfor %}</span>{% endif %}</td></tr>\n  '
    "{% endfor %}"
)


def _household(pk, head="唐<超>德", **kw):
    grid = Area(pk=9, name="七星村<一>&网格", level=5, code="430372100201001", path="x.")
    fields = {"number": "QX&01\"'", "address": "七星村<b>3组</b>", "grid": grid}
    fields.update(kw)
    h = Household(pk=pk, **fields)
    if head is not None:
        h.head = Resident(pk=100 + pk, name=head, relation="head")
    h.living_count = 3
    h.matched = []
    h.tag_badges = []
    return h


def test_the_rows_are_what_the_template_gave_values_escaped(db):
    full = _household(1)
    full.matched = [
        Resident(pk=5, name="唐<script>", relation="spouse"),
        Resident(pk=6, name="唐&二", relation="child"),
        Resident(pk=7, name="某人", relation="unknown-relation"),
    ]
    full.tag_badges = [
        SimpleNamespace(resident_id=None, tag=SimpleNamespace(name="低保 & <户>")),
        SimpleNamespace(resident_id=5, tag=SimpleNamespace(name='残疾"')),
    ]
    rows = [
        full,
        _household(2, head=None, address=""),
        _household(3),
    ]
    rows[2].living_count = 0
    # the list builds its rows from seven columns, not from models: the same markup
    light = []
    for h in rows:
        row = HouseholdRow(
            h.pk,
            h.number,
            h.address,
            h.head_id,
            h.head.name if h.head_id else None,
            h.grid.name,
            h.living_count,
        )
        row.matched, row.tag_badges = h.matched, h.tag_badges
        light.append(row)
    for language in ("zh-hans", "en"):
        with translation.override(language):
            want = Template(TEMPLATE_ROWS).render(Context({"rows": rows}))
            got = household_rows(rows)
            assert got == want
            assert household_rows(light) == want
    assert "&lt;超&gt;" in got and "<script>" not in got and "<b>" not in got
    assert got.count("<tr>") == 3


def test_no_households_no_rows(db):
    assert household_rows([]) == ""
