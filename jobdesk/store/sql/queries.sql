-- Named queries. Every state change is conditional on the state it leaves,
-- and announces itself with pg_notify in the same statement, so an event
-- never describes a state that did not commit. Payloads are "event:job-id".

-- name: insert_job
WITH j AS (
    INSERT INTO jobs (type, name, description, queue, priority, data, max_attempts,
                      backoff_base_ms, backoff_cap_ms, user_id, organization_id, run_at,
                      depends_on, idempotency_key, dependency_policy, parent_id, batch_id, notify)
    VALUES (%(type)s, %(name)s, %(description)s, %(queue)s, %(priority)s, %(data)s,
            %(max_attempts)s, %(backoff_base_ms)s, %(backoff_cap_ms)s, %(user_id)s,
            %(organization_id)s, COALESCE(%(run_at)s, now()), %(depends_on)s,
            %(idempotency_key)s, %(dependency_policy)s, %(parent_id)s, %(batch_id)s, %(notify)s)
    RETURNING *
)
SELECT j.*, pg_notify('jobdesk_events', 'job-created:' || j.id) AS _n FROM j;

-- name: claim_runnable
-- The dispatcher's claim: the best runnable rows of the given queues, locked
-- against other servers, marked dispatched with a fresh token.
WITH c AS (
    SELECT id FROM jobs
    WHERE status = 'pending' AND dispatched_at IS NULL AND run_at <= now()
      AND queue = ANY(%(queues)s)
      AND (cardinality(depends_on) = 0 OR NOT EXISTS (
            SELECT 1 FROM jobs p WHERE p.id = ANY(jobs.depends_on) AND p.status <> 'completed'))
    ORDER BY priority DESC, created_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET dispatched_at = now(), dispatch_token = j.dispatch_token + 1
FROM c WHERE j.id = c.id
RETURNING j.id, j.type, j.queue, j.dispatch_token, j.priority, j.created_at;

-- name: release_dispatch
UPDATE jobs SET dispatched_at = NULL
WHERE id = ANY(%(ids)s) AND status = 'pending' AND dispatched_at IS NOT NULL;

-- name: inflight_by_queue
-- The queue condition is what makes the planner read jobs_inflight_idx alone;
-- without it, stale statistics lead it to AND that index with every pending row.
SELECT queue, count(*) AS n FROM jobs
WHERE queue = ANY(%(queues)s) AND (status = 'active' OR (status = 'pending' AND dispatched_at IS NOT NULL))
GROUP BY queue;

-- name: live_workers
SELECT id, host, pid, queues, threads, started_at, heartbeat_at, current_jobs, processed, failed
FROM workers
WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => %(dead_after)s)
ORDER BY host, pid;

-- name: paused_queues
SELECT name FROM queues WHERE paused;

-- name: recent_durations
-- Mean run time per queue over recent completions: sizes the dispatch window.
-- The latest few thousand of the last 30 s are plenty for a mean, and reading
-- every one of them cost the dispatcher a scan of 75,000 rows every 2 s at
-- full speed. A queue too rare to appear in the sample gets the default window.
SELECT queue, avg(extract(epoch FROM completed_at - started_at)) AS mean_s, count(*) AS n
FROM (
    SELECT queue, started_at, completed_at FROM jobs
    WHERE completed_at > now() - interval '30 seconds' AND started_at IS NOT NULL
    ORDER BY completed_at DESC
    LIMIT %(sample)s
) recent
GROUP BY queue;

-- name: startable_jobs
-- A worker's check before it runs messages: only the latest dispatch of a job
-- still pending runs, so duplicates, stale redeliveries and jobs cancelled
-- while queued do nothing. A read: the start itself is recorded afterwards,
-- without making the handler wait (start_jobs), or together with the finish.
SELECT j.id, j.type, j.name, j.data, j.attempts + 1 AS attempts, j.max_attempts, j.backoff_base_ms,
       j.backoff_cap_ms, j.dispatch_token, j.progress_total, j.priority, j.user_id, j.organization_id
FROM unnest(%(ids)s::uuid[], %(tokens)s::int[]) AS r(id, token)
JOIN jobs j ON j.id = r.id
-- IS TRUE keeps the planner off the status indexes: with statistics a burst
-- old, it would read every pending row instead of a primary-key probe per id.
WHERE (j.dispatch_token = r.token AND j.status = 'pending') IS TRUE;

-- name: start_jobs
-- Record that jobs are running here: only if the token matches the latest
-- dispatch and the job is still pending (a cancel may have come first).
-- started_at is computed here from how long ago the handler began, so a
-- worker's clock never skews it against completed_at.
WITH r AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::int[], %(ages)s::float8[]) AS r(id, token, age_s)
), u AS (
    UPDATE jobs j
    SET status = 'active', started_at = now() - make_interval(secs => r.age_s), updated_at = now(),
        attempts = j.attempts + 1, worker_id = %(worker_id)s, progress_current = 0
    FROM r
    WHERE j.id = r.id AND (j.dispatch_token = r.token AND j.status = 'pending') IS TRUE
    RETURNING j.id
)
-- One notification per 200 rows (payloads are limited to 8,000 bytes), not
-- one per row: the listener splits them (store/notify.py).
SELECT pg_notify('jobdesk_events', 'job-update:' || string_agg(n.id::text, ',')) AS _n
FROM (SELECT u.id, (row_number() OVER () - 1) / 200 AS chunk FROM u) n
GROUP BY n.chunk;

-- name: progress_jobs
WITH r AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::int[], %(currents)s::bigint[],
                         %(totals)s::bigint[], %(messages)s::text[]) AS r(id, token, cur, tot, msg)
), u AS (
    UPDATE jobs j
    SET progress_current = r.cur, progress_total = r.tot, progress_message = r.msg,
        updated_at = now()
    FROM r
    WHERE j.id = r.id AND (j.dispatch_token = r.token AND j.status = 'active') IS TRUE
    RETURNING j.id
)
SELECT pg_notify('jobdesk_events', 'job-update:' || string_agg(n.id::text, ',')) AS _n
FROM (SELECT u.id, (row_number() OVER () - 1) / 200 AS chunk FROM u) n
GROUP BY n.chunk;

-- name: finish_jobs
-- outcome: completed | failed | cancelled | retry (back to pending at run_at).
-- A job still pending with the message's token ran so briefly that its start
-- was never written on its own: this write records the start too.
WITH r AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
             AS r(id uuid, token int, outcome text, result jsonb, error jsonb, delay_s float8,
                  cur bigint, tot bigint, msg text, ran_for_s float8)
), u AS (
    UPDATE jobs j
    SET status = CASE r.outcome WHEN 'retry' THEN 'pending' ELSE r.outcome END,
        result = r.result,
        error = CASE WHEN r.outcome = 'completed' THEN NULL ELSE COALESCE(r.error, j.error) END,
        completed_at = CASE WHEN r.outcome = 'retry' THEN NULL ELSE now() END,
        run_at = CASE WHEN r.delay_s IS NULL THEN j.run_at
                      ELSE now() + make_interval(secs => r.delay_s) END,
        cancel_requested_at = CASE WHEN r.outcome = 'retry' THEN NULL ELSE j.cancel_requested_at END,
        dispatched_at = NULL,
        attempts = j.attempts + (j.status = 'pending')::int,
        started_at = CASE WHEN j.status = 'pending' THEN now() - make_interval(secs => r.ran_for_s)
                          ELSE j.started_at END,
        worker_id = CASE WHEN j.status = 'pending' THEN %(worker_id)s ELSE j.worker_id END,
        progress_current = COALESCE(r.cur, j.progress_current),
        progress_total = COALESCE(r.tot, j.progress_total),
        progress_message = COALESCE(r.msg, j.progress_message),
        updated_at = now(),
        attempt_log = j.attempt_log || jsonb_build_array(jsonb_build_object(
            'attempt', j.attempts + (j.status = 'pending')::int,
            'worker', CASE WHEN j.status = 'pending' THEN %(worker_id)s ELSE j.worker_id END,
            'startedAt', CASE WHEN j.status = 'pending' THEN now() - make_interval(secs => r.ran_for_s)
                              ELSE j.started_at END,
            'endedAt', now(), 'outcome', r.outcome, 'error', r.error -> 'message'))
    FROM r
    -- The id array beside the JSON is for the planner: it cannot see how many
    -- rows jsonb_to_recordset holds (it guesses 100), and on a table whose
    -- statistics lag its growth it chose a hash join over a sequential scan,
    -- 20-240 ms per batch. An array constant it counts: a primary-key probe each.
    WHERE j.id = ANY(%(ids)s::uuid[]) AND j.id = r.id
      AND (j.dispatch_token = r.token AND j.status IN ('pending', 'active')) IS TRUE
    RETURNING j.id, j.status
), n AS (
    SELECT u.id,
           CASE u.status WHEN 'completed' THEN 'job-completed'
                         WHEN 'failed' THEN 'job-failed'
                         WHEN 'cancelled' THEN 'job-cancelled'
                         ELSE 'job-update' END AS event,
           (row_number() OVER () - 1) / 200 AS chunk
    FROM u
)
SELECT pg_notify('jobdesk_events', n.event || ':' || string_agg(n.id::text, ',')) AS _n
FROM n GROUP BY n.event, n.chunk;

-- name: cancel_pending
WITH u AS (
    UPDATE jobs SET status = 'cancelled', completed_at = now(), updated_at = now(),
                    dispatched_at = NULL
    WHERE id = %(id)s AND status = 'pending'
      AND (%(org)s::text IS NULL OR organization_id = %(org)s)
    RETURNING *
)
-- jobdesk_revoked: workers drop what they checked about this job (dispatch/checker.py).
SELECT u.*, pg_notify('jobdesk_events', 'job-cancelled:' || u.id) AS _n,
       pg_notify('jobdesk_revoked', u.id::text) AS _r
FROM u;

-- name: request_cancel_active
WITH u AS (
    UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, now()), updated_at = now()
    WHERE id = %(id)s AND status = 'active'
      AND (%(org)s::text IS NULL OR organization_id = %(org)s)
    RETURNING *
)
SELECT u.*, pg_notify('jobdesk_events', 'job-update:' || u.id) AS _n FROM u;

-- name: cancel_descendants
-- Children of a cancelled job (and theirs): pending ones end now, active ones are asked to stop.
WITH RECURSIVE d AS (
    SELECT id FROM jobs WHERE parent_id = %(id)s
    UNION ALL
    SELECT c.id FROM jobs c JOIN d ON c.parent_id = d.id
), p AS (
    UPDATE jobs j SET status = 'cancelled', completed_at = now(), updated_at = now(),
                      dispatched_at = NULL
    FROM d WHERE j.id = d.id AND j.status = 'pending'
    RETURNING j.id, 'job-cancelled' AS ev
), a AS (
    UPDATE jobs j SET cancel_requested_at = COALESCE(j.cancel_requested_at, now()),
                      updated_at = now()
    FROM d WHERE j.id = d.id AND j.status = 'active'
    RETURNING j.id, 'job-update' AS ev
)
SELECT x.id, pg_notify('jobdesk_events', x.ev || ':' || x.id) AS _n,
       CASE WHEN x.ev = 'job-cancelled' THEN pg_notify('jobdesk_revoked', x.id::text) END AS _r
FROM (SELECT * FROM p UNION ALL SELECT * FROM a) x;

-- name: retry_job
WITH u AS (
    UPDATE jobs
    SET status = 'pending', attempts = 0, result = NULL, error = NULL,
        started_at = NULL, completed_at = NULL, cancel_requested_at = NULL,
        dispatched_at = NULL, dispatch_token = dispatch_token + 1, worker_id = NULL,
        progress_current = 0, progress_message = NULL, run_at = now(), updated_at = now()
    WHERE id = %(id)s AND status IN ('failed', 'cancelled')
      AND (%(org)s::text IS NULL OR organization_id = %(org)s)
    RETURNING *
)
SELECT u.*, pg_notify('jobdesk_events', 'job-update:' || u.id) AS _n FROM u;

-- name: cancel_requested_among
-- Asked to stop while running, or cancelled as pending before its start was recorded.
SELECT id FROM jobs
WHERE id = ANY(%(ids)s) AND (cancel_requested_at IS NOT NULL OR status = 'cancelled');

-- name: orphaned_active
-- Active jobs whose worker stopped heart-beating (or never registered).
SELECT j.id FROM jobs j
WHERE j.status = 'active'
  AND j.started_at < now() - make_interval(secs => %(dead_after)s)
  AND NOT EXISTS (
      SELECT 1 FROM workers w
      WHERE w.id = j.worker_id AND w.stopped_at IS NULL
        AND w.heartbeat_at > now() - make_interval(secs => %(dead_after)s))
FOR UPDATE OF j SKIP LOCKED;

-- name: recover_orphans
-- A lost attempt counts: retried with backoff while attempts remain, failed after.
WITH u AS (
    UPDATE jobs j
    SET status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                      WHEN j.attempts < j.max_attempts THEN 'pending'
                      ELSE 'failed' END,
        error = jsonb_build_object('message', 'worker ' || coalesce(j.worker_id, '?')
                                   || ' stopped while running this job', 'stack', NULL),
        completed_at = CASE WHEN j.cancel_requested_at IS NULL AND j.attempts < j.max_attempts
                            THEN NULL ELSE now() END,
        run_at = now() + make_interval(secs => least(j.backoff_cap_ms,
                     j.backoff_base_ms * power(2, greatest(j.attempts - 1, 0))) / 1000.0),
        dispatched_at = NULL, dispatch_token = j.dispatch_token + 1, updated_at = now(),
        attempt_log = j.attempt_log || jsonb_build_array(jsonb_build_object(
            'attempt', j.attempts, 'worker', j.worker_id, 'startedAt', j.started_at,
            'endedAt', now(), 'outcome', 'lost', 'error', 'worker stopped'))
    WHERE j.id = ANY(%(ids)s) AND j.status = 'active'
    RETURNING j.id, j.status
)
SELECT u.id, u.status,
       pg_notify('jobdesk_events',
                 CASE u.status WHEN 'failed' THEN 'job-failed'
                               WHEN 'cancelled' THEN 'job-cancelled'
                               ELSE 'job-update' END || ':' || u.id) AS _n
FROM u;

-- name: stale_dispatched
-- Dispatched but not started: lost with Redis, or stuck behind a dead worker.
SELECT id, queue, dispatch_token, extract(epoch FROM now() - dispatched_at) AS age_s
FROM jobs
WHERE status = 'pending' AND dispatched_at < now() - make_interval(secs => %(older_than)s)
ORDER BY dispatched_at
LIMIT 5000;

-- name: release_stale
-- SKIP LOCKED for the same reason as recall: a locked row is being written by a worker.
WITH v AS (
    SELECT j.id FROM jobs j
    JOIN unnest(%(ids)s::uuid[], %(tokens)s::int[]) AS r(id, token) ON j.id = r.id
    WHERE j.dispatch_token = r.token AND j.status = 'pending'
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE jobs SET dispatched_at = NULL
FROM v WHERE jobs.id = v.id
RETURNING jobs.id;

-- name: heartbeat
INSERT INTO workers (id, host, pid, queues, threads, current_jobs, processed, failed)
VALUES (%(id)s, %(host)s, %(pid)s, %(queues)s, %(threads)s, %(current_jobs)s,
        %(processed)s, %(failed)s)
ON CONFLICT (id) DO UPDATE
SET heartbeat_at = now(), current_jobs = EXCLUDED.current_jobs, stopped_at = NULL,
    processed = EXCLUDED.processed, failed = EXCLUDED.failed;

-- name: worker_stopped
UPDATE workers SET stopped_at = now(), current_jobs = '{}' WHERE id = %(id)s;

-- name: forget_old_workers
DELETE FROM workers WHERE heartbeat_at < now() - interval '1 day';

-- name: cleanup_finished
DELETE FROM jobs
WHERE status IN ('completed', 'failed', 'cancelled')
  AND completed_at < now() - make_interval(secs => %(older_than_s)s)
  AND parent_id IS NULL;

-- name: stats_counts
-- From the job-count rollup (migration 0005): totals plus the deltas not yet folded in.
SELECT status, type, sum(n)::bigint AS n FROM (
    SELECT organization_id, type, status, n FROM job_counts
    UNION ALL
    SELECT organization_id, type, status, n FROM job_count_deltas
) c
WHERE (%(org)s::text IS NULL OR organization_id = %(org)s)
GROUP BY status, type
HAVING sum(n) <> 0;

-- name: stats_durations
-- Run times of the jobs completed in the last 24 hours, counted by hour of
-- completion (the current hour and the 24 before it), as the histogram the
-- rollup keeps (migration 0005): per bucket, how many and their sum.
SELECT bucket, sum(n)::bigint AS n, sum(sum_us)::bigint AS sum_us FROM (
    SELECT organization_id, hour, bucket, n, sum_us FROM job_durations
    UNION ALL
    SELECT organization_id, hour, bucket, n, sum_us FROM job_duration_deltas
) d
WHERE hour >= (SELECT floor(extract(epoch FROM now()) / 3600)::integer - 24)  -- once, not per row
  AND (%(org)s::text IS NULL OR organization_id = %(org)s)
GROUP BY bucket
HAVING sum(n) > 0
ORDER BY bucket;

-- name: count_jobs
-- A list's total from the job-count rollup (migration 0005); a NULL filter means any.
SELECT COALESCE(sum(n), 0)::bigint AS n FROM (
    SELECT organization_id, type, queue, status, n FROM job_counts
    UNION ALL
    SELECT organization_id, type, queue, status, n FROM job_count_deltas
) c
WHERE (%(org)s::text IS NULL OR organization_id = %(org)s)
  AND (%(type)s::text IS NULL OR type = %(type)s)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
  AND (%(status)s::text IS NULL OR status = %(status)s);

-- name: compact_job_counts
-- Fold the rollup's deltas into its totals (one server at a time; -1 when another is at it).
SELECT jobs_rollup_compact() AS folded;

-- name: throughput_by_minute
-- Finished jobs per minute over a recent window (the console's chart); served by jobs_completed_idx.
SELECT date_trunc('minute', completed_at) AS minute, status, count(*) AS n
FROM jobs
WHERE completed_at > now() - make_interval(mins => %(minutes)s)
  AND status IN ('completed', 'failed')
  AND (%(org)s::text IS NULL OR organization_id = %(org)s)
GROUP BY 1, 2
ORDER BY 1;

-- name: queue_counts
-- From the job-count rollup (migration 0005).
SELECT queue, status, sum(n)::bigint AS n FROM (
    SELECT organization_id, queue, status, n FROM job_counts
    UNION ALL
    SELECT organization_id, queue, status, n FROM job_count_deltas
) c
WHERE (%(org)s::text IS NULL OR organization_id = %(org)s)
  AND status IN ('pending', 'active', 'failed')
GROUP BY queue, status
HAVING sum(n) <> 0;

-- name: set_queue_paused
WITH u AS (
    INSERT INTO queues (name, paused) VALUES (%(name)s, %(paused)s)
    ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()
    RETURNING name, paused
)
SELECT u.*, pg_notify('jobdesk_events', 'queue-update:' || u.name) AS _n FROM u;

-- name: list_queues
SELECT name, paused, held_reason, held_at > now() - interval '5 seconds' AS held FROM queues ORDER BY name;

-- name: propagate_dependency_failures
-- A pending job whose parent failed or was cancelled follows its policy: it
-- fails or is cancelled too (and its own dependents follow on the next sweep).
WITH bad AS (
    SELECT d.id, d.dependency_policy, p.id AS parent, p.status AS parent_status
    FROM jobs d
    CROSS JOIN LATERAL (
        SELECT id, status FROM jobs p
        WHERE p.id = ANY(d.depends_on) AND p.status IN ('failed', 'cancelled')
        LIMIT 1
    ) p
    WHERE d.status = 'pending' AND cardinality(d.depends_on) > 0
    FOR UPDATE OF d SKIP LOCKED
), u AS (
    UPDATE jobs j
    SET status = CASE bad.dependency_policy WHEN 'cancel' THEN 'cancelled' ELSE 'failed' END,
        completed_at = now(), updated_at = now(), dispatched_at = NULL,
        error = jsonb_build_object('message', 'dependency ' || bad.parent || ' ' || bad.parent_status,
                                   'stack', NULL)
    FROM bad WHERE j.id = bad.id AND j.status = 'pending'
    RETURNING j.id, j.status
)
SELECT u.id, pg_notify('jobdesk_events',
                       CASE u.status WHEN 'failed' THEN 'job-failed' ELSE 'job-cancelled' END || ':' || u.id) AS _n,
       pg_notify('jobdesk_revoked', u.id::text) AS _r
FROM u;

-- name: insert_batch
INSERT INTO batches (id, user_id, organization_id, total)
VALUES (%(id)s, %(user_id)s, %(organization_id)s, %(total)s);

-- name: complete_batches
-- Exactly once per batch: the conditional UPDATE is the claim.
WITH done AS (
    UPDATE batches b SET completed_at = now()
    WHERE b.completed_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = b.id AND j.status IN ('pending', 'active'))
    RETURNING b.id
)
SELECT done.id, pg_notify('jobdesk_events', 'batch-completed:' || done.id) AS _n FROM done;

-- name: requeue_dead
WITH u AS (
    UPDATE jobs
    SET status = 'pending', attempts = 0, result = NULL, error = NULL,
        started_at = NULL, completed_at = NULL, cancel_requested_at = NULL,
        dispatched_at = NULL, dispatch_token = dispatch_token + 1, worker_id = NULL,
        progress_current = 0, progress_message = NULL, run_at = now(), updated_at = now()
    WHERE status = 'failed'
      AND (%(org)s::text IS NULL OR organization_id = %(org)s)
      AND (%(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s))
      AND (%(type)s::text IS NULL OR type = %(type)s)
    RETURNING id
)
SELECT u.id, pg_notify('jobdesk_events', 'job-update:' || u.id) AS _n FROM u;

-- name: purge_dead
DELETE FROM jobs
WHERE status = 'failed' AND parent_id IS NULL
  AND (%(org)s::text IS NULL OR organization_id = %(org)s)
  AND (%(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s))
  AND (%(type)s::text IS NULL OR type = %(type)s)
RETURNING id;

-- name: rate_limits
SELECT scope, key, per_second, max_concurrent, tokens, refilled_at FROM rate_limits ORDER BY scope, key;

-- name: lock_rate_limits
-- Refill every bucket and lock the rows for this dispatch round: other servers
-- wait here, then see what this round took. A bucket holds at most one
-- second's worth of tokens (its burst).
UPDATE rate_limits
SET tokens = CASE WHEN per_second IS NULL THEN 0
                  ELSE least(per_second, tokens + per_second * extract(epoch FROM clock_timestamp() - refilled_at))
             END,
    refilled_at = clock_timestamp()
RETURNING scope, key, per_second, max_concurrent, tokens;

-- name: take_tokens
UPDATE rate_limits SET tokens = tokens - r.n
FROM unnest(%(scopes)s::text[], %(keys)s::text[], %(counts)s::int[]) AS r(scope, key, n)
WHERE rate_limits.scope = r.scope AND rate_limits.key = r.key;

-- name: inflight_by_type_and_org
SELECT type, organization_id, count(*) AS n FROM jobs
WHERE status = 'active' OR (status = 'pending' AND dispatched_at IS NOT NULL)
GROUP BY type, organization_id;

-- name: runnable_candidates
SELECT id, type, queue, organization_id FROM jobs
WHERE status = 'pending' AND dispatched_at IS NULL AND run_at <= now()
  AND queue = ANY(%(queues)s)
  AND (cardinality(depends_on) = 0 OR NOT EXISTS (
        SELECT 1 FROM jobs p WHERE p.id = ANY(jobs.depends_on) AND p.status <> 'completed'))
ORDER BY priority DESC, created_at, id
LIMIT %(limit)s;

-- name: claim_ids
WITH c AS (
    SELECT id FROM jobs
    WHERE id = ANY(%(ids)s) AND status = 'pending' AND dispatched_at IS NULL
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET dispatched_at = now(), dispatch_token = j.dispatch_token + 1
FROM c WHERE j.id = c.id
RETURNING j.id, j.type, j.queue, j.dispatch_token, j.priority, j.created_at, j.organization_id;

-- name: set_held
INSERT INTO queues (name, held_reason, held_at) VALUES (%(name)s, %(reason)s, now())
ON CONFLICT (name) DO UPDATE SET held_reason = EXCLUDED.held_reason, held_at = EXCLUDED.held_at;

-- name: release_idempotency_key
UPDATE jobs SET idempotency_key = NULL WHERE id = %(id)s;

-- name: release_stale_idempotency_keys
-- A batch's keys whose job is older than the idempotency window name new jobs:
-- the old jobs give them up, in the batch's own transaction.
UPDATE jobs j SET idempotency_key = NULL
FROM unnest(%(orgs)s::text[], %(keys)s::text[]) AS k(organization_id, key)
WHERE j.organization_id = k.organization_id AND j.idempotency_key = k.key
  AND j.created_at <= now() - make_interval(secs => %(window_s)s);

-- name: jobs_by_idempotency_keys
SELECT j.* FROM unnest(%(orgs)s::text[], %(keys)s::text[]) AS k(organization_id, key)
JOIN jobs j ON j.organization_id = k.organization_id AND j.idempotency_key = k.key;

-- name: insert_jobs
-- Many jobs in one statement (a batch): one JSON array in, one row each out,
-- except for a row whose idempotency key another job holds: it is skipped (the
-- caller reads that job instead; jobs_by_idempotency_keys). Only what
-- PostgreSQL fills in comes back; the caller holds the rest.
WITH j AS (
    INSERT INTO jobs (id, type, name, description, queue, priority, data, max_attempts,
                      backoff_base_ms, backoff_cap_ms, user_id, organization_id, run_at,
                      depends_on, idempotency_key, dependency_policy, parent_id, batch_id, notify)
    SELECT r.id, r.type, r.name, r.description, r.queue, r.priority, r.data, r.max_attempts,
           r.backoff_base_ms, r.backoff_cap_ms, r.user_id, r.organization_id, COALESCE(r.run_at, now()),
           COALESCE(r.depends_on, '{}'), r.idempotency_key, r.dependency_policy, r.parent_id,
           r.batch_id, r.notify
    FROM jsonb_to_recordset(%(rows)s::jsonb)
         AS r(id uuid, type text, name text, description text, queue text, priority int, data jsonb,
              max_attempts int, backoff_base_ms int, backoff_cap_ms int, user_id text,
              organization_id text, run_at timestamptz, depends_on uuid[], idempotency_key text,
              dependency_policy text, parent_id uuid, batch_id uuid, notify jsonb)
    ON CONFLICT (organization_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, status, created_at, updated_at, run_at, attempts, progress_current, progress_total
), n AS MATERIALIZED (
    -- One notification per 200 jobs (store/notify.py splits them).
    SELECT pg_notify('jobdesk_events', 'job-created:' || string_agg(c.id::text, ',')) AS _n
    FROM (SELECT j.id, (row_number() OVER () - 1) / 200 AS chunk FROM j) c
    GROUP BY c.chunk
)
SELECT j.* FROM j CROSS JOIN (SELECT count(*) FROM n) AS notified;

-- name: best_runnable_priority
SELECT priority FROM jobs
WHERE status = 'pending' AND dispatched_at IS NULL AND run_at <= now() AND queue = ANY(%(queues)s)
ORDER BY priority DESC, created_at, id
LIMIT 1;

-- name: queued_priorities
-- Dispatched but not started: messages still waiting in Redis or a worker's prefetch.
SELECT id, priority FROM jobs
WHERE status = 'pending' AND dispatched_at IS NOT NULL AND queue = ANY(%(queues)s)
  AND priority < %(below)s
ORDER BY priority, created_at DESC
LIMIT %(limit)s;

-- name: recall
-- Take back queued messages for more urgent work: the new token makes the
-- message already in Redis stale, so a worker skips it; the job is runnable again.
-- SKIP LOCKED: a row a worker's writer holds is being started, so there is
-- nothing to take back; waiting for it deadlocked with the writer, which locks
-- its batch in its own order, and cost the urgent job a second
-- (deadlock_timeout) before PostgreSQL broke the tie.
WITH v AS (
    SELECT id FROM jobs
    WHERE id = ANY(%(ids)s) AND status = 'pending' AND dispatched_at IS NOT NULL
    FOR UPDATE SKIP LOCKED
), u AS (
    UPDATE jobs j SET dispatched_at = NULL, dispatch_token = j.dispatch_token + 1
    FROM v WHERE j.id = v.id
    RETURNING j.id
)
SELECT u.id, pg_notify('jobdesk_revoked', u.id::text) AS _r FROM u;
