"""A grid's households on its area page are written in Python: the same markup the
template loop gave (values escaped, a headless household without the 户 name), and the
page lists the grid's households only."""

from types import SimpleNamespace

from django.template import Context, Template
from django.utils import translation

from minqing.areas.views import grid_household_rows
from minqing.conftest import login
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

# the list as the area page's template wrote it before
TEMPLATE_LIST = (
    "{% load i18n %}{% trans \"户\" as l_household %}{% url 'registry:households' as base %}"
    '<ul class="rows">{% for h in households %}\n  <li><a href="{{ base }}{{ h.pk }}/">'
    "{% if h.head %}{{ h.head.name }}{{ l_household }} · {% endif %}{{ h.address }}</a> "
    '<span class="muted">{{ h.number }}</span></li>\n{% empty %}<li class="muted">'
    '{% trans "本网格尚无住户" %}</li>{% endfor %}</ul>'
)
NEW_LIST = (
    '{% load i18n %}<ul class="rows">{% if households %}{{ households }}{% else %}'
    '<li class="muted">{% trans "本网格尚无住户" %}</li>{% endif %}</ul>'
)


def _h(pk, head, address, number):
    return SimpleNamespace(
        pk=pk,
        head=SimpleNamespace(name=head) if head is not None else None,
        address=address,
        number=number,
    )


def test_the_list_is_what_the_template_gave_values_escaped(db):
    rows = [(7, "唐<超>德", "七星村<b>&", 'QX"01'), (8, None, "", "QX-02"), (9, "", "x", "n")]
    for language in ("zh-hans", "en"):
        with translation.override(language):
            for chosen in (rows, []):
                want = Template(TEMPLATE_LIST).render(
                    Context({"households": [_h(*r) for r in chosen]})
                )
                got = Template(NEW_LIST).render(
                    Context({"households": grid_household_rows(chosen)})
                )
                assert got == want
    assert "&lt;超&gt;" in grid_household_rows(rows) and "<b>" not in grid_household_rows(rows)


def test_the_grid_page_lists_its_own_households(client, users, tree):
    mine = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-9", address="七星<村>")
    ResidentFactory(household=mine, name="唐超德", relation="head")
    HouseholdFactory(grid=tree.grids["七星村2"], number="QX-OTHER")
    login(client, users.cadre)
    page = client.get(f"/areas/{tree.grids['七星村1'].pk}/").content.decode()
    assert f'/registry/households/{mine.pk}/">唐超德户 · 七星&lt;村&gt;</a>' in page
    assert "QX-9" in page and "QX-OTHER" not in page
