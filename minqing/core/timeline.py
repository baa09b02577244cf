"""One timeline for every case: its workflow events plus what the case app adds (replies,
notes), newest last. `fetched_by=None` is the public view: no actor names, no internal
comments, no workflow notes (events that record without changing the state), only entries
the case app marks public.

A case model may define `timeline_extra(fetched_by) -> list[TimelineEntry]`.
Render with `{% include "core/_timeline.html" with entries=... %}`.
"""

from dataclasses import dataclass
from datetime import datetime

from .workflow import ActorKind, registered_workflows


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # "event" | "reply" | "note" ...
    title: str
    text: str = ""
    actor: str = ""
    public: bool = True


def _registration_for(case):
    for reg in registered_workflows().values():
        if isinstance(case, reg.model):
            return reg
    raise LookupError(f"{type(case).__name__} has no registered workflow")


def timeline_for(case, fetched_by) -> list[TimelineEntry]:
    reg = _registration_for(case)
    labels = reg.workflow.labels
    public = fetched_by is None
    entries = []
    events = reg.event_model.objects.filter(**{reg.case_field: case}).order_by("at", "id")
    for e in events:
        title = str(labels.get(e.action, e.action))
        if public:
            if e.action in reg.workflow.notes:  # internal records (workflow.notes)
                continue
            entries.append(TimelineEntry(at=e.at, kind="event", title=title))
        else:
            actor = e.actor_label or ""
            if e.actor_kind == ActorKind.ANONYMOUS:
                actor = f"{actor}({e.channel})" if e.channel else actor
            entries.append(
                TimelineEntry(at=e.at, kind="event", title=title, text=e.comment, actor=actor)
            )
    extra = getattr(case, "timeline_extra", None)
    if extra is not None:
        entries.extend(x for x in extra(fetched_by) if x.public or not public)
    entries.sort(key=lambda x: x.at)
    return entries
