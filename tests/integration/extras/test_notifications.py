"""Notifications against real receivers: an aiosmtpd server and a local HTTP server, real workers."""

from __future__ import annotations

import email
import email.policy
import itertools

import pytest

from jobdesk.core.errors import InvalidInput
from jobdesk.core.registry import registry
from jobdesk.service.notifications import NotificationsService, RuleExists, RuleNotFound
from jobdesk.service.notifier import Notifier
from jobdesk.service.notify_send import webhook_body
from tests.support.asserts import count, eventually, wait_status

pytestmark = pytest.mark.slow


def fast_notifier(engine, settings=None, **kw) -> Notifier:
    """A notifier with test-sized backoff, started on the engine's hub."""
    kw = {"backoff_base_s": 0.3, "backoff_cap_s": 2.0, "poll_s": 0.05, **kw}
    n = Notifier(engine.store, settings or engine.settings, engine.hub, **kw)
    n.start()
    return n


def notified(channel: str, target: str, job_type: str = "test.noop", **extra) -> dict:
    """A job spec that announces its end on one channel."""
    return {"type": job_type, "notify": [{"channel": channel, "target": target}], **extra}


def rule(job_type: str, channel: str, target: str, **extra) -> dict:
    return {"jobType": job_type, "channel": channel, "target": target, **extra}


async def outbox(engine, job_id: str) -> list[dict]:
    async with engine.pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM notification_outbox WHERE job_id = %s ORDER BY id", (job_id,))
        return await cur.fetchall()


async def settled(engine, job_id: str, n: int, timeout: float = 20) -> list[dict]:
    """Wait until the job has n outbox rows, none pending; return them."""

    async def check():
        rows = await outbox(engine, job_id)
        return rows if len(rows) == n and all(r["status"] != "pending" for r in rows) else None

    return await eventually(check, timeout, f"{n} notifications of job {job_id} to settle")


async def test_slack_and_discord_webhooks_on_completion(engine, tables, shared_workers, webhook):
    notifier = fast_notifier(engine)
    try:
        job = await engine.service.create_job(
            "u1",
            "org1",
            {
                "type": "test.noop",
                "name": "nightly <report> & @everyone",
                "notify": [
                    {"channel": "slack", "target": f"{webhook.url}/slack"},
                    {"channel": "discord", "target": f"{webhook.url}/discord", "events": ["completed"]},
                    {"channel": "webhook", "target": f"{webhook.url}/hook", "events": ["failed"]},
                ],
            },
        )
        assert [n["channel"] for n in job.notify] == ["slack", "discord", "webhook"]
        await wait_status(engine.service, job.id, {"completed"})
        rows = await settled(engine, job.id, 2)  # the generic hook wants failures only
    finally:
        await notifier.stop()
    assert {r["status"] for r in rows} == {"sent"} and {r["attempts"] for r in rows} == {1}
    (slack,) = webhook.on("/slack")
    (discord,) = webhook.on("/discord")
    assert webhook.on("/hook") == []
    assert set(slack.body) == {"text"}
    assert "✅ Job *nightly &lt;report&gt; &amp; @everyone* (test.noop) completed" in slack.body["text"]
    assert job.id in slack.body["text"]
    assert discord.body["content"].startswith("✅ Job **nightly <report> & @everyone** (test.noop) completed")
    assert discord.body["allowed_mentions"] == {"parse": []}  # no @everyone ping


async def test_rules_per_type_and_a_generic_webhook_on_failure(engine, tables, shared_workers, webhook):
    svc = NotificationsService(engine.store, registry)
    await svc.add_rule(
        "org1", {"jobType": "test.fail", "channel": "webhook", "target": f"{webhook.url}/hook"}
    )
    await svc.add_rule(
        "org1",
        {"jobType": "test.fail", "channel": "slack", "target": f"{webhook.url}/ok", "events": ["completed"]},
    )
    await svc.add_rule(
        "org2", {"jobType": "test.fail", "channel": "webhook", "target": f"{webhook.url}/org2"}
    )
    notifier = fast_notifier(engine)
    try:
        job = await engine.service.create_job("u1", "org1", {"type": "test.fail", "maxAttempts": 1})
        await wait_status(engine.service, job.id, {"failed"})
        (row,) = await settled(engine, job.id, 1)
    finally:
        await notifier.stop()
    assert row["status"] == "sent" and row["rule_id"] is not None
    (hook,) = webhook.on("/hook")
    assert hook.body["event"] == "job-failed"
    assert hook.body["data"]["id"] == job.id and hook.body["data"]["status"] == "failed"
    assert hook.body["data"]["error"]["message"] == "failure on attempt 1"
    assert "notify" not in hook.body["data"]  # other receivers' URLs are not passed on
    assert webhook.on("/ok") == webhook.on("/org2") == []
    shown = await svc.job_notifications(job.id, "org1")
    assert [(n["channel"], n["status"], n["event"]) for n in shown] == [("webhook", "sent", "failed")]
    assert await svc.job_notifications(job.id, "org2") == []


async def test_email_reaches_a_real_smtp_server(engine, tables, shared_workers, smtp_server):
    settings = engine.settings.model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port, "smtp_from": "jobs@example.org"}
    )
    notifier = fast_notifier(engine, settings)
    try:
        done = await engine.service.create_job(
            "u1",
            "org1",
            {
                "type": "test.noop",
                "name": "backup",
                "notify": [{"channel": "email", "target": "ops@example.org"}],
            },
        )
        failed = await engine.service.create_job(
            "u1",
            "org1",
            {
                "type": "test.fail",
                "name": "import",
                "maxAttempts": 1,
                "notify": [{"channel": "email", "target": "ops@example.org", "events": ["failed"]}],
            },
        )
        await wait_status(engine.service, done.id, {"completed"})
        await wait_status(engine.service, failed.id, {"failed"})
        await settled(engine, done.id, 1)
        await settled(engine, failed.id, 1)
    finally:
        await notifier.stop()
    assert len(smtp_server.messages) == 2
    by_subject = {}
    for m in smtp_server.messages:
        assert m["from"] == "jobs@example.org" and m["to"] == ["ops@example.org"]
        msg = email.message_from_bytes(m["content"], policy=email.policy.default)
        by_subject[msg["Subject"]] = msg.get_content()
    assert set(by_subject) == {"[jobdesk] backup completed", "[jobdesk] import failed"}
    assert done.id in by_subject["[jobdesk] backup completed"]
    assert '"ok": true' in by_subject["[jobdesk] backup completed"]  # the result
    assert "failure on attempt 1" in by_subject["[jobdesk] import failed"]  # the error


async def test_email_without_smtp_configured_fails_with_a_reason(engine, tables, shared_workers):
    notifier = fast_notifier(engine, engine.settings.model_copy(update={"smtp_host": None}), max_attempts=2)
    try:
        job = await engine.service.create_job(
            "u1", "org1", {"type": "test.noop", "notify": [{"channel": "email", "target": "a@example.org"}]}
        )
        (row,) = await settled(engine, job.id, 1)
    finally:
        await notifier.stop()
    assert row["status"] == "failed" and row["attempts"] == 2
    assert "JOBDESK_SMTP_HOST" in row["last_error"]


async def test_a_failing_webhook_is_retried_with_growing_backoff(engine, tables, shared_workers, webhook):
    webhook.statuses = [500, 503, 502]  # then 200
    notifier = fast_notifier(engine)
    try:
        job = await engine.service.create_job(
            "u1",
            "org1",
            {"type": "test.noop", "notify": [{"channel": "discord", "target": f"{webhook.url}/d"}]},
        )
        await wait_status(engine.service, job.id, {"completed"})
        (row,) = await settled(engine, job.id, 1)
    finally:
        await notifier.stop()
    assert row["status"] == "sent" and row["attempts"] == 4 and row["last_error"] is None
    times = [r.at for r in webhook.on("/d")]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # retry_delay(1..3, base 0.3): at least 0.3, 0.6, 1.2 s
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6 and gaps[2] >= 1.2, gaps
    assert gaps[0] < gaps[1] < gaps[2]
    assert notifier.stats[("discord", "retry")] == 3 and notifier.stats[("discord", "sent")] == 1


async def test_a_refused_webhook_gives_up_at_once(engine, tables, shared_workers, webhook):
    webhook.statuses = [404]
    notifier = fast_notifier(engine)
    try:
        job = await engine.service.create_job(
            "u1",
            "org1",
            {"type": "test.noop", "notify": [{"channel": "slack", "target": f"{webhook.url}/gone"}]},
        )
        await wait_status(engine.service, job.id, {"completed"})
        (row,) = await settled(engine, job.id, 1)
    finally:
        await notifier.stop()
    assert row["status"] == "failed" and row["attempts"] == 1 and "HTTP 404" in row["last_error"]


async def test_two_servers_send_each_notification_once(engine, tables, shared_workers, webhook, second_store):
    """Both notifiers hear every event; each job's end is still posted once per target."""
    first = fast_notifier(engine)
    second = Notifier(second_store, engine.settings, engine.hub, poll_s=0.05, backoff_base_s=0.3)
    second.start()
    try:
        jobs = [
            await engine.service.create_job(
                "u1",
                "org1",
                {"type": "test.noop", "notify": [{"channel": "webhook", "target": f"{webhook.url}/h"}]},
            )
            for _ in range(20)
        ]
        for j in jobs:
            await wait_status(engine.service, j.id, {"completed"})
            await settled(engine, j.id, 1)
    finally:
        await first.stop()
        await second.stop()
    posted = [r.body["data"]["id"] for r in webhook.on("/h")]
    assert sorted(posted) == sorted(j.id for j in jobs)


async def test_jobs_that_ended_while_no_notifier_ran_are_caught_up(engine, tables, shared_workers, webhook):
    job = await engine.service.create_job(
        "u1",
        "org1",
        {"type": "test.noop", "notify": [{"channel": "webhook", "target": f"{webhook.url}/late"}]},
    )
    await wait_status(engine.service, job.id, {"completed"})
    assert await count(engine.pool, "SELECT count(*) FROM notification_outbox") == 0
    notifier = fast_notifier(engine)  # its start-up sweep finds the job
    try:
        (row,) = await settled(engine, job.id, 1)
    finally:
        await notifier.stop()
    assert row["status"] == "sent"
    (late,) = webhook.on("/late")
    assert late.body["data"]["id"] == job.id
    assert await notifier.sweep() == 0  # and nothing twice


async def test_a_slow_webhook_never_holds_jobs_up(engine, tables, shared_workers, webhook):
    webhook.delay_s = 8.0
    notifier = fast_notifier(engine)
    try:
        spec = {"type": "test.noop", "notify": [{"channel": "webhook", "target": f"{webhook.url}/slow"}]}
        first = await engine.service.create_job("u1", "org1", spec)
        await wait_status(engine.service, first.id, {"completed"})
        await eventually(lambda: _async(len(webhook.on("/slow")) == 1), 5, "the slow post to start")
        # While that post hangs, more jobs run and finish as fast as ever.
        later = [await engine.service.create_job("u1", "org1", spec) for _ in range(3)]
        for j in later:
            await wait_status(engine.service, j.id, {"completed"}, timeout=6)
    finally:
        await notifier.stop()


async def _async(value):
    return value


async def test_rules_service_validates_and_scopes(engine, tables):
    svc = NotificationsService(engine.store, registry)
    rule = await svc.add_rule(
        "org1",
        {"jobType": "test.noop", "channel": "email", "target": " ops@example.org ", "events": ["failed"]},
    )
    assert rule.to_api()["target"] == "ops@example.org" and rule.events == ["failed"]
    with pytest.raises(RuleExists):
        await svc.add_rule("org1", {"jobType": "test.noop", "channel": "email", "target": "ops@example.org"})
    for bad, words in [
        ({"jobType": "nope", "channel": "email", "target": "a@b.co"}, "jobType: unknown job type 'nope'"),
        ({"jobType": "test.noop", "channel": "sms", "target": "a@b.co"}, "channel:"),
        ({"jobType": "test.noop", "channel": "slack", "target": "hooks.slack.com/x"}, "http(s) URL"),
        ({"jobType": "test.noop", "channel": "email", "target": "not-an-address"}, "not an email address"),
        (
            {"jobType": "test.noop", "channel": "email", "target": "a@b.co", "events": ["started"]},
            "events.0:",
        ),
        ({"jobType": "test.noop", "channel": "email", "target": "a@b.co", "extra": 1}, "extra:"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await svc.add_rule("org1", bad)
        assert words in caught.value.message, caught.value.message
    assert [r.id for r in await svc.list_rules("org1")] == [rule.id]
    assert await svc.list_rules("org2") == []
    with pytest.raises(RuleNotFound):
        await svc.remove_rule(rule.id, "org2")
    assert (await svc.remove_rule(rule.id, "org1")).id == rule.id
    assert await svc.list_rules() == []


def test_a_bad_notify_entry_is_rejected_at_job_creation(settings):
    from jobdesk.core.prepare import prepare

    for notify, words in [
        ([{"channel": "email", "target": "x"}], "notify.0"),
        ([{"channel": "webhook", "target": "file:///etc/passwd"}], "http(s) URL"),
        ([{"channel": "slack"}], "notify.0.target"),
        ([{"channel": "slack", "target": "http://x.y", "when": "always"}], "notify.0.when"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            prepare({"type": "test.noop", "notify": notify}, "u", "o", registry)
        assert words in caught.value.message


def test_payload_shapes():
    payload = {
        "event": "job-failed",
        "data": {"id": "j1", "name": "a", "type": "t", "attempts": 3, "error": {"message": "boom"}},
    }
    assert webhook_body("webhook", payload) is payload
    assert webhook_body("slack", payload)["text"].startswith("❌ Job *a* (t) failed after 3 attempt(s): boom")
    assert "**a**" in webhook_body("discord", payload)["content"]
