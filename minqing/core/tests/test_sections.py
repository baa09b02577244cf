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
