"""Schedules, notification rules, a job's notifications and /metrics over REST.

The server of this package runs the scheduler and the notifier (start_server
starts them), so a schedule's tick and a rule's notification are observed end to end.
"""

from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.server.conftest import create, wait_job
from tests.integration.server.test_rest import assert_error
from tests.support.asserts import eventually

EVERY_SECOND = "* * * * * *"


# -- schedules -------------------------------------------------------------------------------


async def test_schedule_add_fire_disable_and_remove(http, people, org):
    member, colleague, outsider = org["member"], org["colleague"], people["bob"]
    spec = {"name": "nightly report", "cron": EVERY_SECOND, "job": {"type": "test.noop", "data": {"n": 1}}}
    r = await http.post("/api/schedules", json=spec, headers=member.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    try:
        assert made["name"] == "nightly report" and made["enabled"] is True and made["nextRunAt"]
        assert made["timezone"] == "UTC" and made["missedPolicy"] == "coalesce"
        assert made["organizationId"] == member.info.organization_id and made["userId"] == member.info.user_id
        assert_error(await http.post("/api/schedules", json=spec, headers=colleague.headers), 409)

        # By id or by name, for anyone of the organization (and admins); a 404 for others.
        for ref in (made["id"], "nightly report"):
            r = await http.get(f"/api/schedules/{ref}", headers=colleague.headers)
            assert r.status_code == 200 and r.json()["id"] == made["id"]
            assert_error(await http.get(f"/api/schedules/{ref}", headers=outsider.headers), 404)
        assert (
            await http.get(f"/api/schedules/{made['id']}", headers=people["root"].headers)
        ).status_code == 200
        listed = (await http.get("/api/schedules", headers=member.headers)).json()
        assert [s["id"] for s in listed] == [made["id"]]
        assert made["id"] not in {
            s["id"] for s in (await http.get("/api/schedules", headers=outsider.headers)).json()
        }
        assert_error(
            await http.patch(
                f"/api/schedules/{made['id']}", json={"enabled": False}, headers=outsider.headers
            ),
            404,
        )
        assert_error(await http.delete(f"/api/schedules/{made['id']}", headers=outsider.headers), 404)

        # The server's scheduler fires it: a job of the organization.
        async def fired():
            s = (await http.get(f"/api/schedules/{made['id']}", headers=member.headers)).json()
            return s["lastJobId"]

        job_id = await eventually(fired, timeout=30, what="the schedule to fire")
        job = (await http.get(f"/api/jobs/{job_id}", headers=member.headers)).json()
        assert job["type"] == "test.noop" and job["data"] == {"n": 1}
        assert job["organizationId"] == member.info.organization_id

        r = await http.patch(f"/api/schedules/{made['id']}", json={"enabled": False}, headers=member.headers)
        assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["nextRunAt"] is None
        for body in ({}, {"enabled": "perhaps"}, {"enabled": True, "cron": "* * * * *"}):
            r = await http.patch(f"/api/schedules/{made['id']}", json=body, headers=member.headers)
            assert_error(r, 422)
    finally:
        r = await http.delete(f"/api/schedules/{made['id']}", headers=member.headers)
    assert r.status_code == 200 and r.json()["id"] == made["id"]
    assert_error(await http.get(f"/api/schedules/{made['id']}", headers=member.headers), 404)
    assert_error(await http.delete(f"/api/schedules/{made['id']}", headers=member.headers), 404)
    assert_error(
        await http.patch(f"/api/schedules/{uuid.uuid4()}", json={"enabled": True}, headers=member.headers),
        404,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"cron": "every day"},
        {"cron": "61 * * * *"},
        {"timezone": "Mars/Olympus"},
        {"timezone": "../../etc/passwd"},
        {"job": {"type": "no.such.type"}},
        {"job": {"type": "test.sleep", "data": {"seconds": "long"}}},
        {"job": {"type": "test.noop", "runAt": "2030-01-01T00:00:00Z"}},
        {"job": "test.noop"},
        {"name": ""},
        {"name": " padded "},
        {"missedPolicy": "sometimes"},
        {"owner": "me"},
    ],
)
async def test_bad_schedules_are_422(http, org, change):
    spec = {"name": "bad", "cron": "0 * * * *", "job": {"type": "test.noop"}, **change}
    assert_error(await http.post("/api/schedules", json=spec, headers=org["member"].headers), 422)
    assert (await http.get("/api/schedules", headers=org["member"].headers)).json() == []


# -- notification rules and a job's notifications --------------------------------------------


async def test_rules_and_a_jobs_notifications(http, people, org, live_workers):
    member, colleague, outsider = org["member"], org["colleague"], people["bob"]
    rule = {"jobType": "test.noop", "channel": "email", "target": "ops@example.com", "events": ["completed"]}
    r = await http.post("/api/notification-rules", json=rule, headers=member.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["organizationId"] == member.info.organization_id and made["events"] == ["completed"]
    assert_error(await http.post("/api/notification-rules", json=rule, headers=colleague.headers), 409)
    hook = {"jobType": "test.fail", "channel": "webhook", "target": "http://127.0.0.1:9/hook"}
    other = (await http.post("/api/notification-rules", json=hook, headers=member.headers)).json()
    assert other["events"] == ["completed", "failed"]

    listed = (await http.get("/api/notification-rules", headers=colleague.headers)).json()
    assert {x["id"] for x in listed} == {made["id"], other["id"]}
    only = (await http.get("/api/notification-rules?jobType=test.noop", headers=member.headers)).json()
    assert [x["id"] for x in only] == [made["id"]]
    assert made["id"] not in {
        x["id"] for x in (await http.get("/api/notification-rules", headers=outsider.headers)).json()
    }

    # A job of that type completes: the server's notifier queues (and tries) the email.
    job = await create(http, member)
    await wait_job(http, member, job["id"], {"completed"})

    async def noted():
        r = await http.get(f"/api/jobs/{job['id']}/notifications", headers=colleague.headers)
        assert r.status_code == 200, r.text
        return r.json()

    sent = await eventually(noted, timeout=30, what="the notification to be recorded")
    assert [(n["channel"], n["target"], n["event"], n["ruleId"]) for n in sent] == [
        ("email", "ops@example.com", "completed", made["id"])
    ]
    assert_error(await http.get(f"/api/jobs/{job['id']}/notifications", headers=outsider.headers), 404)
    assert_error(await http.get(f"/api/jobs/{uuid.uuid4()}/notifications", headers=member.headers), 404)

    assert_error(await http.delete(f"/api/notification-rules/{made['id']}", headers=outsider.headers), 404)
    assert_error(await http.delete("/api/notification-rules/not-a-uuid", headers=member.headers), 404)
    for rid in (made["id"], other["id"]):
        r = await http.delete(f"/api/notification-rules/{rid}", headers=member.headers)
        assert r.status_code == 200 and r.json()["id"] == rid
    assert_error(await http.delete(f"/api/notification-rules/{made['id']}", headers=member.headers), 404)


@pytest.mark.parametrize(
    "rule",
    [
        {"jobType": "no.such.type", "channel": "email", "target": "a@example.com"},
        {"jobType": "test.noop", "channel": "email", "target": "not an address"},
        {"jobType": "test.noop", "channel": "slack", "target": "ftp://example.com/x"},
        {"jobType": "test.noop", "channel": "pigeon", "target": "a@example.com"},
        {"jobType": "test.noop", "channel": "email", "target": "a@example.com", "events": ["started"]},
        {"jobType": "test.noop", "channel": "email", "target": "a@example.com", "events": []},
        {"jobType": "test.noop", "channel": "email"},
        {"jobType": "test.noop", "channel": "email", "target": "a@example.com", "organizationId": "x"},
    ],
)
async def test_bad_rules_are_422(http, org, rule):
    assert_error(await http.post("/api/notification-rules", json=rule, headers=org["member"].headers), 422)


# -- metrics ---------------------------------------------------------------------------------


async def test_metrics_for_admins(http, people):
    r = await http.get("/metrics", headers=people["root"].headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert {"jobdesk_jobs", "jobdesk_queue_depth", "jobdesk_workers", "jobdesk_dispatch_lag_seconds"} <= names
    assert_error(await http.get("/metrics", headers=people["alice"].headers), 403)
    assert_error(await http.get("/metrics"), 401)
    assert "/metrics" in (await http.get("/api/openapi.json")).json()["paths"]
