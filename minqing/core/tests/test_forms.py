"""core.forms.submit: the one bind / validate / call / refuse step of every page form."""

import pytest
from django import forms
from django.test import RequestFactory

from minqing.accounts.models import Unit
from minqing.accounts.services import unit_create
from minqing.core.errors import Conflict, PermissionDeniedError
from minqing.core.forms import submit


class UnitForm(forms.Form):
    name = forms.CharField(max_length=50)


def post(data):
    return RequestFactory().post("/x/", data)


def create(users, tree):
    return lambda data: unit_create(
        actor=users.admin, name=data["name"], kind="committee", area=tree.qixing
    )


def test_a_get_shows_the_form(users, tree):
    outcome = submit(RequestFactory().get("/x/"), UnitForm(), create(users, tree))
    assert (outcome.done, outcome.status) == (False, 200)
    assert not Unit.objects.exists()


def test_a_valid_form_runs_the_service_and_returns_its_value(users, tree):
    outcome = submit(
        post({"name": "七星村委会"}), UnitForm({"name": "七星村委会"}), create(users, tree)
    )
    assert outcome.done and outcome.status == 200 and outcome.value == Unit.objects.get()


def test_an_invalid_form_calls_nothing_and_answers_400(users, tree):
    form = UnitForm({"name": ""})
    outcome = submit(post({"name": ""}), form, create(users, tree))
    assert (outcome.done, outcome.status) == (False, 400) and form.errors["name"]
    assert not Unit.objects.exists()


@pytest.mark.parametrize(
    "error, status",
    [(PermissionDeniedError("不在您的管辖范围内"), 400), (Conflict("已被占用"), 409)],
)
def test_a_refused_service_puts_its_message_on_the_form(error, status):
    def refuse(_data):
        raise error

    form = UnitForm({"name": "x"})
    outcome = submit(post({"name": "x"}), form, refuse)
    assert (outcome.done, outcome.status) == (False, status)
    assert form.non_field_errors() == [str(error.message)]


def test_a_real_refusal_from_a_service(users, tree):
    # a cadre may not create units: the service's own refusal, on the form
    form = UnitForm({"name": "七星村委会"})
    outcome = submit(
        post({"name": "七星村委会"}),
        form,
        lambda data: unit_create(
            actor=users.cadre, name=data["name"], kind="committee", area=tree.qixing
        ),
    )
    assert not outcome.done and outcome.status == 400 and form.non_field_errors()
    assert not Unit.objects.exists()
