"""{% audit_rows %} writes the audit page's rows in Python: the same markup the template
loop gave, every value escaped."""

from datetime import UTC, datetime
from types import SimpleNamespace

from django.template import Context, Template

from minqing.core.templatetags.audit_rows import audit_rows

# the rows as the page's template wrote them before
TEMPLATE_ROWS = (
    '{% load i18n %}{% trans "时间" as l_at %}{% trans "对象" as l_target %}'
    '{% trans "说明" as l_detail %}{% trans "操作人" as l_actor %}{% trans "区域" as l_area %}'
    '{% trans "来源地址" as l_source %}'
    '{% for e in events %}{% with at=e.at|date:"Y-m-d H:i:s" %}<tr><td class="lead">'
    '<strong>{{ e.action_label }}</strong> <span class="muted">{{ at|slice:":16" }}</span></td>'
    '<td data-label="{{ l_at }}" class="wide-only">{{ at }}</td><td data-label="{{ l_target }}">'
    '{% if e.target_url %}<a href="{{ e.target_url }}">{{ e.target_name }}</a>{% else %}'
    '{{ e.target_name|default:"—" }}{% endif %}</td><td data-label="{{ l_detail }}">'
    '{{ e.detail_text|default:"—" }}</td><td data-label="{{ l_actor }}">{{ e.actor_label }}</td>'
    '<td data-label="{{ l_area }}">{{ e.area.name|default:"—" }}</td>'
    '<td data-label="{{ l_source }}">{{ e.source_address|default:"—" }}</td></tr>{% endwith %}'
    "{% endfor %}"
)


def _event(**kw):
    base = {
        "at": datetime(2025, 6, 30, 23, 59, 58, 123, tzinfo=UTC),  # the next day in Shanghai
        "action_label": "查看户",
        "target_url": "/registry/households/7/?a=1&b=<2>",
        "target_name": '唐"超德"户 <script>',
        "detail_text": "原因：<b>核实</b> & 其他",
        "actor_label": "grid<1>",
        "area_id": 3,
        "area": SimpleNamespace(name="七星村 & '一组'"),
        "source_address": "10.0.0.1",
    }
    base.update(kw)
    return SimpleNamespace(**base)


def test_the_rows_are_what_the_template_gave_values_escaped():
    events = [
        _event(),
        _event(target_url="", target_name=""),  # no link, no name: a dash
        _event(target_url="", target_name="已删除 <x>", detail_text="", source_address=""),
        _event(area_id=None, area=None, action_label="<登录>"),
    ]
    want = Template(TEMPLATE_ROWS).render(Context({"events": events}))
    got = audit_rows(events)
    assert got == want
    assert "<script>" not in got and "&lt;script&gt;" in got
    assert "2025-07-01 07:59:58" in got  # shown in the local time, as the date filter did


def test_no_events_no_rows():
    assert audit_rows([]) == ""


def test_the_area_name_read_with_the_row_is_shown_as_the_area_was():
    """The audit page reads the area's name as a column (`area_name`, no Area per row)."""
    with_area = [_event(), _event(area_id=None, area=None)]
    named = [_event(area_name="七星村 & '一组'"), _event(area_id=None, area_name=None)]
    for e in named:
        del e.area
    assert audit_rows(named) == audit_rows(with_area)
    assert "七星村 &amp; &#x27;一组&#x27;" in audit_rows(named)
