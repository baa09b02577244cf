"""Generated household numbers: grid code + 4 digits, one after the grid's highest, found
without reading every number; a number still held by a household that moved to another
grid is skipped (the unique constraint says so, and the next attempt looks further)."""

from minqing.registry import services
from minqing.registry.tests.factories import HouseholdFactory


def test_next_number_follows_the_highest_of_the_grid(users, tree):
    grid = tree.grids["七星村1"]
    HouseholdFactory(grid=grid, number=f"{grid.code}0001")
    HouseholdFactory(grid=grid, number=f"{grid.code}0041")
    HouseholdFactory(grid=grid, number="手写-7")
    created = services.household_create(actor=users.cadre, grid=grid, address="一组")
    assert created.number == f"{grid.code}0042"


def test_a_number_kept_by_a_household_that_moved_away_is_skipped(users, tree):
    grid, other = tree.grids["七星村1"], tree.grids["七星村2"]
    HouseholdFactory(grid=grid, number=f"{grid.code}0001")
    HouseholdFactory(grid=other, number=f"{grid.code}0002")  # moved to grid 2, kept its number
    created = services.household_create(actor=users.cadre, grid=grid, address="一组")
    assert created.number == f"{grid.code}0003"


def test_numbers_past_9999_keep_counting(users, tree):
    grid = tree.grids["七星村1"]
    HouseholdFactory(grid=grid, number=f"{grid.code}9999")
    first = services.household_create(actor=users.cadre, grid=grid, address="一组")
    second = services.household_create(actor=users.cadre, grid=grid, address="二组")
    assert (first.number, second.number) == (f"{grid.code}10000", f"{grid.code}10001")
