"""/metrics with real workers: counts and durations of jobs that ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobdesk.service.metrics import Metrics
from tests.integration.extras.test_metrics import FAMILIES, parse, value
from tests.support.asserts import eventually, wait_status


@pytest.mark.slow
async def test_metrics_of_real_jobs(engine, tables, shared_workers):
    metrics = Metrics(engine.store, engine.settings, engine.hub, refresh_s=0.0)
    metrics.start()
    try:
        jobs = [await engine.service.create_job("u1", "org1", {"type": "test.noop"}) for _ in range(3)]
        failed = await engine.service.create_job("u1", "org1", {"type": "test.fail", "maxAttempts": 1})
        later = await engine.service.create_job(
            "u1", "org1", {"type": "test.noop", "runAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
        )
        for j in jobs:
            await wait_status(engine.service, j.id, {"completed"})
        await wait_status(engine.service, failed.id, {"failed"})

        async def observed():
            fams = parse(await metrics.render())
            counts = [s for s in fams["jobdesk_job_duration_seconds"] if s.name.endswith("_count")]
            return fams if sum(s.value for s in counts) >= 4 else None

        families = await eventually(observed, 10, "four durations observed")
    finally:
        metrics.stop()
    assert set(families) >= FAMILIES
    assert value(families, "jobdesk_jobs", status="completed", type="test.noop") == 3
    assert value(families, "jobdesk_jobs", status="failed", type="test.fail") == 1
    assert value(families, "jobdesk_jobs", status="pending", type="test.noop") == 1
    assert value(families, "jobdesk_queue_scheduled", queue="test") == 1  # the runAt job waits
    assert not [s for s in families["jobdesk_queue_depth"] if s.labels["queue"] == "test" and s.value]
    assert value(families, "jobdesk_workers") >= 1 and value(families, "jobdesk_worker_threads") >= 4
    hist = families["jobdesk_job_duration_seconds"]
    count = [
        s
        for s in hist
        if s.name.endswith("_count") and s.labels == {"type": "test.noop", "status": "completed"}
    ]
    assert count[0].value == 3
    inf = [s for s in hist if s.labels.get("le") == "+Inf" and s.labels["type"] == "test.fail"]
    assert inf[0].value == 1 and inf[0].labels["status"] == "failed"
    assert later.id  # still pending: counted above, not in the lag (its time has not come)
    assert value(families, "jobdesk_dispatch_lag_seconds") < 5
