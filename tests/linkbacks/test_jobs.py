"""The linkback work the queue runs (commentsvc.linkbacks.jobs), with its edges from the app."""

from commentsvc.linkbacks import jobs


def test_the_context_takes_the_apps_fetcher_clock_and_own_hosts(make_app, clock):
    app = make_app(PUBLIC_URL="https://comments.example.org")
    app.extensions["clock"] = clock
    with app.test_request_context():
        ctx = jobs.app_context(address="h", requested_by="client h", host="127.0.0.1:5000")
        assert ctx.fetcher is app.extensions["fetcher"] and ctx.now == clock()
        assert set(ctx.own_hosts) == {"comments.example.org", "127.0.0.1:5000"}
        assert (ctx.address, ctx.requested_by, ctx.own_pages_allowed) == ("h", "client h", ())
        assert jobs.app_context().gate is ctx.gate  # one gate per app


def test_the_demo_allows_its_own_blog_pages_as_sources(make_app):
    with make_app(DEMO=True).test_request_context():
        assert jobs.app_context().own_pages_allowed == ("/demo/",)


def test_webmentions_are_a_kind_of_job_the_app_runs(app):
    assert jobs.run_webmention.job_kind == "webmention"
    assert app.extensions["queue_handlers"]["webmention"] is jobs.run_webmention
