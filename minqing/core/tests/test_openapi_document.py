"""The served OpenAPI document is valid JSON for strict parsers: Swagger UI refuses a
document whose object holds a key twice (an operation's own 409 beside the common one)."""

import json


def test_no_key_appears_twice_in_the_document(client, users):
    client.force_login(users.admin)
    raw = client.get("/api/openapi.json").content
    twice = []

    def pairs(items):
        keys = [k for k, _ in items]
        twice.extend(k for k in set(keys) if keys.count(k) > 1)
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    assert twice == []
