"""The in-app inbox: a user's own notifications, unread first (page and API)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from ninja import Router, Schema
from pydantic import StrictInt

from .case_models import Notification
from .notifications import notification_mark_read, unread_count
from .schemas import ObjectIn


@login_required
def inbox(request):
    qs = Notification.objects.visible_to(request.user).order_by("read_at", "-created_at", "-id")
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(request, "core/inbox.html", {"page": page, "query": ""})


@login_required
def inbox_count(request):
    """The unread badge in the header, loaded by htmx after the page (no query on every
    page render)."""
    n = unread_count(request.user)
    return HttpResponse(f' <span class="badge">{n}</span>' if n else "")


@login_required
@require_POST
def inbox_read(request):
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()] or None
    notification_mark_read(actor=request.user, ids=ids)
    return redirect("core:inbox")


router = Router()


class NotificationOut(Schema):
    id: int
    created_at: str
    kind: str
    title: str
    body: str
    url: str
    read: bool


class ReadIn(ObjectIn):
    ids: list[StrictInt] | None = None


@router.get("/notifications", response=dict)
def notifications(request, unread: bool = False):
    """My inbox (newest 50) and the unread count."""
    qs = Notification.objects.visible_to(request.user)
    if unread:
        qs = qs.unread()
    return {
        "unread": unread_count(request.user),
        "items": [
            {
                "id": n.pk,
                "created_at": n.created_at.isoformat(),
                "kind": n.kind,
                "title": n.title,
                "body": n.body,
                "url": n.url,
                "read": n.read_at is not None,
            }
            for n in qs[:50]
        ],
    }


@router.post("/notifications/read", response=dict)
def notifications_read(request, payload: ReadIn):
    """Mark some (ids) or all of my notifications read."""
    return {"marked": notification_mark_read(actor=request.user, ids=payload.ids)}
