"""A village cadre's daily tasks at 360 px, counted in taps: find a household by pinyin, give
低保 to a household, move a person with the picker and confirm, correct that move, reveal an
ID with a reason, and a supervisor finds that reveal in the audit log. Each task ends with its
message (or answer) inside the viewport. The tap counts are printed (pytest -s) for the
report; a tap is a click or a key press that submits, a select is two taps (open, choose)."""

import pytest
from playwright.sync_api import expect

from minqing.registry.models import Household, Relation, ResidentStatus

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Taps:
    def __init__(self, page, task: str):
        self.page, self.task, self.n = page, task, 0

    def tap(self, target):
        loc = self.page.locator(target) if isinstance(target, str) else target
        loc.click()
        self.n += 1

    def choose(self, target, **option):
        loc = self.page.locator(target) if isinstance(target, str) else target
        loc.select_option(**option)
        self.n += 2

    def type(self, target, text: str):
        loc = self.page.locator(target) if isinstance(target, str) else target
        loc.click()
        self.n += 1
        loc.fill(text)

    def enter(self, target):
        loc = self.page.locator(target) if isinstance(target, str) else target
        loc.press("Enter")
        self.n += 1

    def done(self, budget: int):
        """Print the count for the report; more taps than the budget is a regression."""
        print(f"\n[taps] {self.task}: {self.n}")
        assert self.n <= budget, f"{self.task}: {self.n} taps, budget {budget}"


def qixing_households():
    """Households of 七星村 (the cadre's village) with a living head and another member."""
    rows = []
    for h in (
        Household.objects.filter(grid__parent__name="七星村", head__isnull=False)
        .select_related("head")
        .order_by("number")
    ):
        members = [
            m
            for m in h.members.all()
            if m.status == ResidentStatus.LIVING and m.relation != Relation.HEAD
        ]
        if members and not m_has_moves(members[0]):
            rows.append((h, members[0]))
        if len(rows) >= 3:
            break
    return rows


def m_has_moves(resident) -> bool:
    return resident.moves.exists()


def in_view(locator):
    expect(locator.first).to_be_visible()
    expect(locator.first).to_be_in_viewport()


def test_find_a_household_by_pinyin(page, login, shot, page_width):
    (household, _member), *_ = qixing_households()
    login("cadre")
    t = Taps(page, "find a household by pinyin")
    t.type("header .header-search input[name=q]", household.head.name_pinyin)
    with page.expect_navigation():
        t.enter("header .header-search input[name=q]")
    row = page.locator("#results tbody tr").filter(has_text=household.head.name).first
    in_view(row)  # results start above the fold: the filter card is folded away
    expect(row).to_contain_text(household.address)
    shot("search-results")
    t.tap(row.get_by_role("link", name=str(household.name)))
    expect(page.locator("main h1")).to_contain_text(str(household.name))
    t.done(budget=3)
    assert page_width() <= 360


def test_search_says_which_member_matched(page, login, shot):
    (household, member), *_ = qixing_households()
    login("cadre")
    page.goto(f"/registry/households/?q={member.name_pinyin}")
    row = page.locator("#results tbody tr").filter(has_text=str(household.name)).first
    expect(row.locator(".matched")).to_contain_text(
        f"匹配成员：{member.name}（{member.get_relation_display()}）"
    )


def test_give_dibao_to_a_household(page, login, shot):
    (household, _member), *_ = qixing_households()
    login("cadre")
    page.goto(f"/registry/households/{household.pk}/")
    t = Taps(page, "give 低保 to a household")
    t.tap(page.locator("#panel-tag > summary"))
    # household tags come first, under 按户认定; choosing one needs no subject
    t.choose("#panel-tag select[name=tag]", label="低保")
    expect(page.locator("#panel-tag select[name=subject]")).to_be_hidden()
    t.type("#panel-tag input[name=reason]", "家庭收入低于当地低保标准")
    with page.expect_navigation():
        t.tap(page.locator("#panel-tag button[type=submit]"))
    msg = page.locator(".messages")
    expect(msg).to_contain_text("已认定“低保”")
    in_view(msg)
    t.done(budget=5)
    assert household.tag_periods.filter(tag__code="dibao", end_date__isnull=True).exists()
    shot("tag-given", full_page=False)
    msg.get_by_role("button", name="关闭提示").click()  # read: out of the way
    expect(msg).to_be_hidden()


def test_a_refused_tag_puts_the_error_in_view_without_a_post_url(page, login):
    (household, _member), *_ = qixing_households()
    login("cadre")
    page.goto(f"/registry/households/{household.pk}/")
    page.locator("#panel-tag > summary").click()
    page.select_option("#panel-tag select[name=tag]", label="残疾")  # personal: needs a member
    page.fill("#panel-tag input[name=reason]", "测试")
    page.locator("#panel-tag button[type=submit]").click()
    error = page.locator("#panel-tag .error, #panel-tag .form-errors")
    in_view(error)
    assert page.url.endswith(f"/registry/households/{household.pk}/")  # no POST URL left


def move_with_picker(page, t, *, member, target):
    t.tap(page.locator("#panel-move > summary"))
    t.choose("#panel-move select[name=resident]", value=str(member.pk))
    t.choose("#panel-move select[name=kind]", value="transfer")
    t.type("#panel-move [data-picker] input[type=search]", target.head.name_pinyin)
    option = page.locator("#panel-move .picker-option").filter(has_text=target.head.name).first
    expect(option).to_contain_text(target.address)
    t.tap(option)
    expect(page.locator("#panel-move .picker-picked")).to_contain_text(str(target.name))
    t.tap(page.locator("#panel-move form:not(.confirm-box) button[type=submit]"))
    question = page.locator("#panel-move .confirm-box .question")
    expect(question).to_have_text(
        f"将 {member.name} 从 {member.household.name} 迁入 {target.name}，确认？"
    )
    in_view(question)


def test_move_a_person_with_the_picker_and_confirm_then_correct_it(page, login, shot):
    (source, member), (target, _), *_ = qixing_households()
    login("cadre")
    page.goto(f"/registry/households/{source.pk}/")
    t = Taps(page, "move a person with the picker and confirm")
    move_with_picker(page, t, member=member, target=target)
    shot("move-confirm", full_page=False)
    with page.expect_navigation():
        t.tap(page.locator("#panel-move .confirm-box button[type=submit]"))
    msg = page.locator(".messages")
    expect(msg).to_contain_text(f"已登记户间迁移：{member.name} 迁入 {target.name}")
    in_view(msg)
    t.done(budget=9)
    member.refresh_from_db()
    assert member.household_id == target.pk

    t = Taps(page, "correct that move")
    row = page.locator("tr", has_text="户间迁移").filter(has_text=member.name).first
    t.tap(row.locator(".correct-form > summary"))
    t.type(row.locator("input[name=reason]"), "迁错了户")
    with page.expect_navigation():
        t.tap(row.locator("button[type=submit]"))
    msg = page.locator(".messages")
    expect(msg).to_contain_text(f"已更正：{member.name} 的户间迁移登记已撤销")
    in_view(msg)
    t.done(budget=3)
    member.refresh_from_db()
    assert member.household_id == source.pk
    expect(page.locator("#section-1")).to_contain_text("已更正")
    page.locator("#section-1").scroll_into_view_if_needed()
    shot("household-moves-corrected", full_page=False)


def test_a_death_asks_a_stronger_confirmation(page, login):
    (source, member), *_ = qixing_households()
    login("cadre")
    page.goto(f"/registry/households/{source.pk}/")
    page.locator("#panel-move > summary").click()
    page.select_option("#panel-move select[name=resident]", value=str(member.pk))
    page.select_option("#panel-move select[name=kind]", value="death")
    expect(page.locator("#panel-move [data-picker]")).to_be_hidden()
    page.locator("#panel-move form:not(.confirm-box) button[type=submit]").click()
    box = page.locator("#panel-move .confirm-box.danger-box")
    in_view(box)
    expect(box).to_contain_text("已死亡，确认？")
    # the browser will not send it unticked
    box.locator("button[type=submit]").click()
    member.refresh_from_db()
    assert member.status == ResidentStatus.LIVING
    box.locator("input[name=verified]").check()
    with page.expect_navigation():
        box.locator("button[type=submit]").click()
    member.refresh_from_db()
    assert member.status == ResidentStatus.DECEASED


def test_reveal_an_id_with_a_reason_and_find_it_in_the_audit_log(
    browser, live_server, page, login, shot
):
    (household, member), *_ = qixing_households()
    login("cadre")
    page.goto(f"/registry/households/{household.pk}/")
    shot("household")
    shot("household-top", full_page=False)
    t = Taps(page, "reveal an ID with a reason")
    cell = page.locator(f"#id-{member.pk}")
    t.tap(cell.locator("summary"))
    t.tap(cell.get_by_role("button", name="核实身份"))
    revealed = cell.locator("code.revealed")
    expect(revealed).to_have_text(member.id_number)
    in_view(revealed)
    t.done(budget=2)

    # the supervisor, from the home page
    page.context.clear_cookies()
    login("supervisor")
    t = Taps(page, "supervisor finds the reveal in the audit log")
    t.tap("header button.nav-button")
    with page.expect_navigation():
        t.tap(page.locator("header nav").get_by_role("link", name="审计日志"))
    # newest first: the supervisor's own login, then the reveal
    row = page.locator("table.audit tbody tr").filter(has_text="查看身份证号").first
    expect(row).to_contain_text("查看身份证号")
    expect(row).to_contain_text("原因：核实身份")
    expect(row).to_contain_text(f"{member.name}（{household.name}）")
    in_view(row)
    t.done(budget=2)
    shot("audit-log", full_page=False)

    # and from the household: 查看记录 opens the log filtered to it
    page.goto(f"/registry/households/{household.pk}/")
    with page.expect_navigation():
        page.get_by_role("link", name="查看记录").click()
    expect(page.locator("table.audit tbody")).to_contain_text("查看身份证号")
    assert page.locator("table.audit tbody tr").count() >= 1
    shot("audit-log-household", full_page=False)


def test_tap_targets_on_the_household_page(page, login):
    """Buttons, inputs and selects on the household page are at least 44 px high, and the
    reveal controls of one row keep 8 px apart."""
    (household, _member), *_ = qixing_households()
    login("cadre")
    page.goto(f"/registry/households/{household.pk}/")
    for panel in ("#panel-tag", "#panel-move"):
        page.locator(f"{panel} > summary").click()
    small = page.evaluate(
        """() => Array.from(document.querySelectorAll(
            'main button, main .button, main summary, main input:not([type=hidden]), main select'))
          .filter(e => e.offsetParent !== null)
          .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect().height])
          .filter(([, h]) => h < 44)"""
    )
    assert small == []
    gaps = page.evaluate(
        """() => Array.from(document.querySelectorAll('tr')).map(tr => {
            const b = Array.from(tr.querySelectorAll('summary.reveal')).map(e => e.getBoundingClientRect());
            const out = [];
            for (let i = 0; i < b.length; i++) for (let j = i + 1; j < b.length; j++) {
              const dx = Math.max(b[j].left - b[i].right, b[i].left - b[j].right);
              const dy = Math.max(b[j].top - b[i].bottom, b[i].top - b[j].bottom);
              out.push(Math.max(dx, dy));
            }
            return out;
          }).flat().filter(g => g < 8)"""
    )
    assert gaps == []
    ids = page.evaluate(
        """() => { const seen = {}; document.querySelectorAll('[id]').forEach(e => {
             seen[e.id] = (seen[e.id] || 0) + 1; });
           return Object.entries(seen).filter(([, n]) => n > 1); }"""
    )
    assert ids == []


def test_a_double_tap_submits_once(page, login):
    (household, _member), *_ = qixing_households()
    login("cadre")
    page.goto(f"/registry/households/{household.pk}/")
    page.locator("#panel-tag > summary").click()
    page.select_option("#panel-tag select[name=tag]", label="低保")
    page.fill("#panel-tag input[name=reason]", "收入低")
    requests = []
    page.on("request", lambda r: requests.append(r) if r.method == "POST" else None)
    with page.expect_navigation():
        page.locator("#panel-tag button[type=submit]").dblclick()
    expect(page.locator(".messages")).to_contain_text("已认定“低保”")
    assert len([r for r in requests if r.url.endswith("/tags/")]) == 1
    assert household.tag_periods.filter(tag__code="dibao").count() == 1
