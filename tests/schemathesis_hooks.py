"""Schemathesis hooks: point generated requests at the test's real site, so they reach the core."""

import schemathesis


@schemathesis.hook
def map_query(ctx, query):
    if query and isinstance(query.get("site"), str):
        query["site"] = "blog"
    return query


@schemathesis.hook
def map_body(ctx, body):
    if isinstance(body, dict) and isinstance(body.get("site"), str):
        body["site"] = "blog"
    return body
