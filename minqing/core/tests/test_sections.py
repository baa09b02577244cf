"""Page sections: any app adds a section to any page, with the scoped object, or leaves it
out by returning None."""

from minqing.appeals.tests.factories import file_appeal
from minqing.conftest import login
from minqing.core import sections


def test_an_app_adds_a_section_to_the_appeal_page(
    client, users, tree, monkeypatch, tmp_path, settings
):
    sections._discover()  # the apps' own sections are found first, into the real registry
    monkeypatch.setattr(sections, "_SECTIONS", {})
    tpl = tmp_path / "t"
    tpl.mkdir()
    (tpl / "_extra.html").write_text("<p>附加内容 {{ obj.pk }} {{ who }}</p>")
    first = settings.TEMPLATES[0]
    # a new TEMPLATES value (not a mutation) so Django rebuilds its template engines
    settings.TEMPLATES = [{**first, "DIRS": [*first["DIRS"], str(tpl)]}, *settings.TEMPLATES[1:]]
    sections.register_section(
        "appeals.detail",
        title="测试栏目",
        template="_extra.html",
        context=lambda request, obj: (
            {"who": request.user.username} if request.user.role == "village_cadre" else None
        ),
    )
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    login(client, users.cadre)
    body = client.get(f"/appeals/{appeal.pk}/").content.decode()
    assert "测试栏目" in body and f"附加内容 {appeal.pk} cadre" in body
    login(client, users.township)
    assert "测试栏目" not in client.get(f"/appeals/{appeal.pk}/").content.decode()


def test_sections_share_the_request_context_but_not_each_others_values(
    client, users, tree, monkeypatch, tmp_path, settings
):
    """The sections of a page render in one request context (its processors run once):
    each still sees the processors' values (the user, a CSRF token) and its own, and
    nothing a section before it was given."""
    sections._discover()
    monkeypatch.setattr(sections, "_SECTIONS", {})
    tpl = tmp_path / "t"
    tpl.mkdir()
    (tpl / "_one.html").write_text("<p>一 {{ mine }} {{ user.username }} {% csrf_token %}</p>")
    (tpl / "_two.html").write_text("<p>二 [{{ mine }}] {{ theirs }} {{ user.username }}</p>")
    first = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**first, "DIRS": [*first["DIRS"], str(tpl)]}, *settings.TEMPLATES[1:]]
    sections.register_section(
        "appeals.detail", title="一", template="_one.html", context=lambda r, o: {"mine": "甲"}
    )
    sections.register_section(
        "appeals.detail", title="二", template="_two.html", context=lambda r, o: {"theirs": "乙"}
    )
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    login(client, users.cadre)
    body = client.get(f"/appeals/{appeal.pk}/").content.decode()
    assert "<p>一 甲 cadre" in body and 'name="csrfmiddlewaretoken"' in body
    assert "<p>二 [] 乙 cadre</p>" in body
