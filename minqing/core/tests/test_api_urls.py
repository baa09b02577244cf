"""The API's URL patterns grouped by app (minqing/urls.py `_by_app`): every operation is
found at the same path, under the same name, as in django-ninja's flat list, and a request
is not tried against every pattern before its own."""

import re

from django.urls import resolve, reverse

from minqing.api import api

CANDIDATES = ("7", "x1", "00000000-0000-0000-0000-000000000000", "a-b", "a/b")


def _example(pattern) -> str:
    """A path this pattern matches: each variable replaced by a value its converter takes."""

    def value(m):
        converter = pattern.pattern.converters[m.group(2)]
        return next(c for c in CANDIDATES if re.fullmatch(converter.regex, c))

    return "/api/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, str(pattern.pattern))


def test_every_operation_resolves_as_in_ninjas_list():
    patterns, _app, namespace = api.urls
    assert len(patterns) > 100
    for p in patterns:
        url = _example(p)
        match = resolve(url)
        # the same view as the flat list's (or an earlier pattern that the flat list would
        # also have chosen for this path)
        first = next(q for q in patterns if q.pattern.match(url[len("/api/") :]))
        assert match.route == f"api/{first.pattern}", url
        assert match.namespace == namespace and match.url_name == first.name
        assert reverse(f"{namespace}:{first.name}", kwargs=match.kwargs) == url


def test_the_public_intake_is_not_tried_against_the_whole_api():
    match = resolve("/api/appeals/public/appeals")
    assert match.url_name == "public_file"
    assert len(match.tried) < 50  # 86 in the flat list
