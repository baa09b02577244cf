"""{% resident_rows %} writes the resident list's rows in Python: the same markup the
template loop gave, every value escaped, personal data masked."""

from datetime import date
from types import SimpleNamespace

from django.template import Context, Template
from django.utils import translation

from minqing.areas.models import Area
from minqing.registry.models import Household, Resident
from minqing.registry.templatetags.resident_rows import resident_rows

# the rows as the list's template wrote them before
TEMPLATE_ROWS = (
    '{% load i18n %}{% trans "性别/年龄" as l_age %}{% trans "身份证号" as l_id %}'
    '{% trans "手机号" as l_phone %}{% trans "户" as l_household %}{% trans "状态" as l_status %}'
    '{% trans "重点人群" as l_tags %}{% trans "岁" as l_years %}'
    "{% url 'registry:households' as base %}"
    '{% for r in rows %}<tr{% if r.status != "living" %} class="inactive"{% endif %}>'
    '<td class="lead"><a href="{{ base }}{{ r.household_id }}/#r{{ r.pk }}"><strong>{{ r.name }}'
    '</strong></a> <span class="muted">{{ r.get_relation_display }}</span></td>'
    '<td data-label="{{ l_age }}">{{ r.get_gender_display }} · {{ r.age }} {{ l_years }}</td>'
    '<td data-label="{{ l_id }}"><code class="masked">{{ r.id_masked }}</code></td>'
    '<td data-label="{{ l_phone }}"><span class="masked">{{ r.phone_masked|default:"—" }}</span>'
    '</td><td data-label="{{ l_household }}"><a href="{{ base }}{{ r.household_id }}/">'
    '{{ r.household.name }}</a> <span class="muted">{{ r.household.grid.name }}</span></td>'
    '<td data-label="{{ l_status }}">{{ r.get_status_display }}{% if r.status != "living" and '
    'r.status_date %} <span class="muted">{{ r.status_date|date:"Y-m-d" }}</span>{% endif %}</td>'
    '<td data-label="{{ l_tags }}">{% if r.current_tags %}<span class="tags">'
    '{% for p in r.current_tags %}<span class="badge{% if not p.resident_id %} household'
    '{% endif %}">{{ p.tag.name }}</span>{% endfor %}</span>{% endif %}</td></tr>{% endfor %}'
)


def _resident(pk, **kw):
    grid = Area(pk=9, name="七星村<一>网格", level=5, code="430372100201001", path="x.")
    household = Household(pk=40 + pk, number="QX&01", address="七星村", grid=grid)
    fields = {
        "name": "唐<超>德",
        "id_number": "430321199001011234",
        "gender": "M",
        "birth_date": date(1990, 1, 1),
        "phone": "13800001234",
        "relation": "head",
        "status": "living",
    }
    fields.update(kw)
    r = Resident(pk=pk, household=household, **fields)
    r.current_tags = []
    return r


def test_the_rows_are_what_the_template_gave_values_escaped(db):
    tag = SimpleNamespace(name="低保 & <户>")
    living = _resident(1)
    living.current_tags = [
        SimpleNamespace(resident_id=None, tag=tag),
        SimpleNamespace(resident_id=1, tag=SimpleNamespace(name="残疾")),
    ]
    rows = [
        living,
        _resident(2, phone="", relation="spouse", gender="F"),
        _resident(3, status="deceased", status_date=date(2024, 5, 6)),
        _resident(4, status="moved_out", status_date=None),
        # values outside the choices (written as given, escaped), no birth date, dead undated
        _resident(5, relation="<x>&", gender="?<g>", status="<s>", birth_date=None),
        _resident(6, status="deceased", status_date=None, birth_date=date(1930, 12, 31)),
        _resident(
            7, status="deceased", status_date=date(2024, 2, 29), birth_date=date(1960, 2, 29)
        ),
    ]
    for language in ("zh-hans", "en"):  # the choice labels are kept per language
        with translation.override(language):
            want = Template(TEMPLATE_ROWS).render(Context({"rows": rows}))
            got = resident_rows(rows)
            assert got == want
    assert "&lt;超&gt;" in got and "<超>" not in got
    assert "430321199001011234" not in got and "13800001234" not in got  # masked
    assert 'class="inactive"' in got and "2024-05-06" in got


def test_no_residents_no_rows(db):
    assert resident_rows([]) == ""


def test_the_lists_rows_from_columns_write_as_the_models(db):
    """The list view's ResidentRow (columns, no models) gives the same markup as the models."""
    from minqing.registry.views import ResidentRow

    models = [
        _resident(1),
        _resident(2, status="deceased", status_date=date(2024, 5, 6), relation="<r>"),
    ]
    models[0].household.head = models[0]
    models[0].household.head_id = 1
    rows = []
    for m in models:
        h = m.household
        row = ResidentRow(
            *(m.pk, m.name, m.id_number, m.gender, m.birth_date, m.phone, m.relation),
            *(m.status, m.status_date, h.pk, h.number, h.head_id),
            *(h.head.name if h.head_id else None, h.grid.name),
        )
        row.current_tags = m.current_tags = [
            SimpleNamespace(resident_id=None, tag=SimpleNamespace(name="<t>"))
        ]
        rows.append(row)
    for language in ("zh-hans", "en"):
        with translation.override(language):
            assert resident_rows(rows) == resident_rows(models)
            assert resident_rows(rows) == Template(TEMPLATE_ROWS).render(Context({"rows": models}))
