"""The one way a page runs a form against a service.

Every page with a form did the same four steps by hand: bind, validate, call the service,
turn a refused call (DomainError) into a message on the form and a status for the re-rendered
page. `submit` does them once:

    form = UserCreateForm(request.POST or None, actor=request.user)
    outcome = submit(request, form, lambda data: user_create(actor=request.user, **data))
    if outcome.done:
        return redirect(...)
    return render(request, "....html", {"form": form}, status=outcome.status)
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import DomainError, form_status


@dataclass(frozen=True)
class Outcome:
    done: bool  # the service ran and accepted
    value: Any = None  # what it returned
    status: int = 200  # the status of the page that shows the form again
    error: DomainError | None = None  # the refusal, for pages that show more than its words


def submit(request, form, action: Callable[[dict], Any]) -> Outcome:
    """On POST with a valid form, `action(form.cleaned_data)`. An invalid form answers 400; a
    refused action puts its message on the form (a non-field error) and answers its status
    (core.errors.form_status); a GET shows the form (200)."""
    if request.method != "POST":
        return Outcome(done=False)
    if not form.is_valid():
        return Outcome(done=False, status=400)
    try:
        return Outcome(done=True, value=action(form.cleaned_data))
    except DomainError as exc:
        form.add_error(None, exc.message)
        return Outcome(done=False, status=form_status(exc), error=exc)
