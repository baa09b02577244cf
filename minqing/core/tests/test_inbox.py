"""The inbox: my own notifications, unread count in the header, marking read."""

from minqing.conftest import login
from minqing.core.models import Notification


def _note(user, title="有新事项"):
    return Notification.objects.create(recipient=user, kind="t", title=title, url="/")


def test_inbox_page_and_header_count_show_only_mine(client, users):
    _note(users.cadre, "给村干部的")
    _note(users.grid, "给网格员的")
    login(client, users.cadre)
    page = client.get("/core/inbox/").content.decode()
    assert "给村干部的" in page and "给网格员的" not in page
    assert client.get("/core/inbox/count/").content.decode() == ' <span class="badge">1</span>'
    assert "/core/inbox/count/" in client.get("/").content.decode()
    client.post("/core/inbox/read/")
    assert Notification.objects.get(recipient=users.cadre).read_at is not None
    assert Notification.objects.get(recipient=users.grid).read_at is None


def test_inbox_api(client, users):
    mine = _note(users.cadre)
    theirs = _note(users.grid)
    login(client, users.cadre)
    body = client.get("/api/core/notifications").json()
    assert body["unread"] == 1 and [i["id"] for i in body["items"]] == [mine.pk]
    r = client.post(
        "/api/core/notifications/read",
        {"ids": [mine.pk, theirs.pk]},
        content_type="application/json",
    )
    assert r.json() == {"marked": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None
