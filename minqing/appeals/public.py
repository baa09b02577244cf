"""What the resident sees with a tracking code: state, promised date (Open311
expected_datetime) and public replies; never internal notes, names or other people's data."""

from minqing.core.timeline import timeline_for

from .models import State


def track_view(appeal) -> dict:
    return {
        "state": appeal.state,
        "state_label": str(State(appeal.state).label),
        "category": appeal.category.name,
        "title": appeal.title,
        "created_at": appeal.created_at,
        "expected_datetime": appeal.due_at if appeal.state != State.ARCHIVED else None,
        "replies": [
            {"at": r.at, "text": r.text} for r in appeal.replies.public().order_by("at", "id")
        ],
        "timeline": [
            {"at": e.at, "title": e.title, "text": e.text}
            for e in timeline_for(appeal, fetched_by=None)
            if e.kind == "event"
        ],
        "can_rate": appeal.state == State.RESOLVED,
    }
