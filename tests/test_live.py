"""The service as deployed: gunicorn workers in their own processes, real HTTP."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import add_site

pytestmark = pytest.mark.slow

POSTS = 200


def test_four_workers_store_every_one_of_200_concurrent_posts(live_server, app):
    add_site(app)
    server = live_server(workers=4, GUARD="off", PROXY_COUNT=1)

    def post(n: int) -> int:
        body = {"site": "blog", "uri": f"/post/{n % 4}", "text": f"comment number {n}"}
        response = requests.post(f"{server.url}/api/comments", json=body, timeout=60)
        return response.status_code

    def like(n: int) -> int:
        # Each request comes "from" another visitor (trusted proxy header), so each one counts.
        headers = {"X-Forwarded-For": f"10.{n // 250}.{n % 250}.1"}
        body = {"site": "blog", "uri": "/post/0"}
        response = requests.post(f"{server.url}/api/likes", json=body, headers=headers, timeout=60)
        return response.status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        posted = list(pool.map(post, range(POSTS)))
        liked = list(pool.map(like, range(POSTS)))
    assert posted == [201] * POSTS, server.output()
    assert liked == [200] * POSTS, server.output()

    counts = requests.get(
        f"{server.url}/api/counts",
        params={"site": "blog", "uri": [f"/post/{n}" for n in range(4)]},
        timeout=10,
    ).json()["counts"]
    assert counts == {f"/post/{n}": POSTS // 4 for n in range(4)}
    thread = requests.get(
        f"{server.url}/api/comments",
        params={"site": "blog", "uri": "/post/0", "limit": 200},
        timeout=10,
    ).json()
    assert thread["likes"] == POSTS
    assert len({c["id"] for c in thread["comments"]}) == POSTS // 4
