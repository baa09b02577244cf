"""{% visit_items %} writes the household page's visits in Python: the same markup the
template (visits/_visit_items.html until perf7b, kept here) gave, every value escaped."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.utils import translation

from minqing.visits.templatetags.visit_items import visit_items

TEMPLATE = '{% load i18n %}{% comment %}The household page\'s visits (visits.sections.section_visits: plain lists, labels translated once).{% endcomment %}{% trans "见到" as l_met %}{% trans "补记" as l_note %}{% trans "走访人" as l_visitors %}<ol class="visit-items">\n{% for v in visits %}<li class="visit-item">\n  <div><a href="{{ v.url }}"><strong>{{ v.visited_at|date:"Y-m-d H:i" }}</strong></a>\n    {% if v.place %}<span class="muted">· {{ v.place }}</span>{% endif %}\n  </div>\n  {% if v.met_names or v.met_others %}<div class="muted"><small>{{ l_met }}:{{ v.met_names|join:"、" }}{% if v.met_names and v.met_others %}、{% endif %}{{ v.met_others }}</small></div>{% endif %}\n  <div class="situation">{{ v.situation|linebreaksbr }}</div>\n  {% if v.photos_shown %}<div class="photos">{% for p in v.photos_shown %}<a href="{{ p.url }}"><img src="{{ p.url }}" alt="{{ p.name }}" loading="lazy"></a>{% endfor %}</div>{% endif %}\n  {% for f in v.findings_shown %}<span class="badge finding-{{ f.kind }}">{{ f.label }}:{{ f.text }}{% if f.resident %}({{ f.resident }}){% endif %}</span>{% endfor %}\n  {% for n in v.notes_shown %}<div class="note"><small class="muted">{{ l_note }} {{ n.at|date:"Y-m-d H:i" }} {{ n.author }}</small>:{{ n.text|linebreaksbr }}</div>{% endfor %}\n  <div><small class="muted">{{ l_visitors }}:{{ v.visitor_names|join:"、" }}</small></div>\n</li>{% empty %}<li class="muted">{% trans "还没有走访记录" %}</li>{% endfor %}\n</ol>\n'


def _visit(**kw):
    base = {
        "url": "/visits/7/?a=1&b=<2>",
        "visited_at": datetime(2025, 6, 30, 23, 59, 58, tzinfo=UTC),  # the next day locally
        "place": "家中 <院子>",
        "met_names": ["张德书", "李<四>"],
        "met_others": "邻居 & 亲戚",
        "situation": "第一行 <b>x</b>\r\n第二行\n第三行",
        "photos_shown": [{"url": "/visits/7/photos/1/?x=<1>", "name": 'a"b.jpg'}],
        "findings_shown": [
            {"kind": "tag", "label": "重点人群认定", "text": "认定 <x>", "resident": "张小燕"},
            {"kind": "need<", "label": "诉求", "text": "申请 & 救助", "resident": None},
        ],
        "notes_shown": [
            {
                "text": "补记\n两行 <i>",
                "author": "王<网格>",
                "at": datetime(2025, 7, 1, 1, 2, tzinfo=UTC),
            },
            {"text": "", "author": "", "at": None},
        ],
        "visitor_names": ["王网格", "<cadre>"],
    }
    base.update(kw)
    return SimpleNamespace(**base)


CASES = [
    [],
    [_visit()],
    [
        _visit(place="", met_names=[], met_others=""),
        _visit(met_names=[], photos_shown=[], findings_shown=[], notes_shown=[]),
        _visit(met_others="", visitor_names=[]),
        _visit(situation="<script>alert(1)</script>"),
    ],
]


@pytest.mark.parametrize("visits", CASES)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_visits_are_what_the_template_gave_values_escaped(visits, language):
    with translation.override(language):
        want = Template(TEMPLATE).render(Context({"visits": visits}))
        got = visit_items(visits)
    assert got == want
    assert "<script>" not in got and "<b>" not in got
