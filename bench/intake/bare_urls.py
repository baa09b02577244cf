"""A bare Django view doing one INSERT (the baseline the intake API is compared with)."""

import json

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def insert(request):
    body = json.loads(request.body)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO bench_insert (body) VALUES (%s) RETURNING id", [body.get("content", "")]
        )
        (pk,) = cur.fetchone()
    return JsonResponse({"id": pk}, status=201)


urlpatterns = [path("insert", insert)]
