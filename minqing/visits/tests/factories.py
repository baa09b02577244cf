"""Visit test data: households with members, and visits written through the service or,
for fixtures at a given time, directly."""

from datetime import date

from minqing.core.idcard import make_id_number
from minqing.registry.models import Relation
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory
from minqing.visits.models import LastVisit, Visit

_seq = [0]


def household(grid, *, head="张德书", child=None, number=None):
    _seq[0] += 1
    n = _seq[0]  # the id number's order has 3 digits: it wraps (a whole run makes >300)
    hh = HouseholdFactory(grid=grid, **({"number": number} if number else {}))
    ResidentFactory(
        household=hh,
        name=head,
        relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1960, 1, 1 + n % 28), (500 + n) % 1000),
    )
    if child:
        ResidentFactory(
            household=hh,
            name=child,
            relation=Relation.CHILD,
            id_number=make_id_number("430302", date(2015, 2, 1 + n % 28), (700 + n) % 1000),
        )
    return hh


def visit_at(hh, when, *, by, situation="例行走访", follow_up=None):
    """A visit written directly at a fixed time (fixtures for coverage and due lists),
    keeping LastVisit as the service does."""
    v = Visit.objects.create(
        household=hh,
        grid_id=hh.grid_id,
        visited_at=when,
        situation=situation,
        recorded_by=by,
        follow_up_date=follow_up,
    )
    v.visitors.add(by)
    last = LastVisit.objects.filter(household=hh).first()
    if last is None or last.visited_at <= when:
        LastVisit.objects.update_or_create(
            household=hh, defaults={"visited_at": when, "follow_up_date": follow_up}
        )
    return v
