-- Named queries of schedules, notifications and metrics (jobdesk/service/{schedules,
-- notifications,metrics}.py). Kept apart from queries.sql, which is the engine's.

-- name: insert_schedule
INSERT INTO schedules (name, cron, timezone, job, user_id, organization_id, enabled,
                       missed_policy, next_run_at)
VALUES (%(name)s, %(cron)s, %(timezone)s, %(job)s, %(user_id)s, %(organization_id)s,
        %(enabled)s, %(missed_policy)s, %(next_run_at)s)
RETURNING *;

-- name: list_schedules
SELECT * FROM schedules
WHERE (%(org)s::text IS NULL OR organization_id = %(org)s)
ORDER BY organization_id, name;

-- name: find_schedules
-- By id, or by name (unique within an organization; an admin may see several).
SELECT * FROM schedules
WHERE (id = %(id)s OR (%(id)s::uuid IS NULL AND name = %(name)s))
  AND (%(org)s::text IS NULL OR organization_id = %(org)s)
ORDER BY organization_id;

-- name: delete_schedule
DELETE FROM schedules WHERE id = %(id)s RETURNING *;

-- name: set_schedule_enabled
-- Enabling starts from the next tick after now: ticks passed while disabled are not missed ones.
UPDATE schedules
SET enabled = %(enabled)s, updated_at = now(),
    next_run_at = CASE WHEN %(enabled)s AND NOT enabled THEN %(next_run_at)s ELSE next_run_at END
WHERE id = %(id)s
RETURNING *;

-- name: claim_due_schedules
-- Schedules whose next tick is due (or due within the look-ahead), locked
-- against other servers until this transaction has fired them and moved them on.
SELECT s.*, now() AS db_now FROM schedules s
WHERE s.enabled AND s.next_run_at <= now() + make_interval(secs => %(lookahead_s)s)
ORDER BY s.next_run_at
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: advance_schedule
UPDATE schedules
SET next_run_at = %(next_run_at)s, enabled = %(enabled)s,
    last_run_at = COALESCE(%(last_run_at)s, last_run_at),
    last_job_id = COALESCE(%(last_job_id)s, last_job_id),
    last_error = %(last_error)s, updated_at = now()
WHERE id = %(id)s;

-- name: insert_rule
INSERT INTO notification_rules (organization_id, job_type, channel, target, events, enabled)
VALUES (%(org)s, %(job_type)s, %(channel)s, %(target)s, %(events)s, %(enabled)s)
RETURNING *;

-- name: list_rules
SELECT * FROM notification_rules
WHERE (%(org)s::text IS NULL OR organization_id = %(org)s)
  AND (%(job_type)s::text IS NULL OR job_type = %(job_type)s)
ORDER BY organization_id, job_type, channel, target;

-- name: delete_rule
DELETE FROM notification_rules
WHERE id = %(id)s AND (%(org)s::text IS NULL OR organization_id = %(org)s)
RETURNING *;

-- name: notifications_wanted
-- What some finished jobs ask for and do not have yet: their own `notify`
-- entries and their type's rules, for the event they ended with. Which jobs:
-- the brace placeholder below, a fixed subquery chosen in code (by ids, or
-- recently finished; see service/notifier.py).
WITH j AS {jobs},
w AS (
    SELECT j.id AS job_id, NULL::uuid AS rule_id, n ->> 'channel' AS channel,
           n ->> 'target' AS target, j.status AS event, j.completed_at AS finished_at
    FROM j CROSS JOIN LATERAL jsonb_array_elements(j.notify) AS n
    WHERE j.notify IS NOT NULL AND n -> 'events' ? j.status
    UNION ALL
    SELECT j.id, r.id, r.channel, r.target, j.status, j.completed_at
    FROM j JOIN notification_rules r
      ON r.organization_id = j.organization_id AND r.job_type = j.type
    WHERE r.enabled AND j.status = ANY(r.events)
)
SELECT DISTINCT ON (w.job_id, w.channel, w.target, w.event) w.*
FROM w
WHERE NOT EXISTS (
    SELECT 1 FROM notification_outbox o
    WHERE o.job_id = w.job_id AND o.channel = w.channel AND o.target = w.target
      AND o.event = w.event AND o.finished_at = w.finished_at)
ORDER BY w.job_id, w.channel, w.target, w.event, w.rule_id NULLS LAST
LIMIT %(limit)s;

-- name: insert_outbox
INSERT INTO notification_outbox (job_id, rule_id, channel, target, event, finished_at, payload)
VALUES (%(job_id)s, %(rule_id)s, %(channel)s, %(target)s, %(event)s, %(finished_at)s, %(payload)s)
ON CONFLICT (job_id, channel, target, event, finished_at) DO NOTHING;

-- name: claim_outbox
-- Due deliveries, taken by one server: the attempt counts now, and the row is
-- leased (not due again) until the sender reports or the lease runs out.
WITH c AS (
    SELECT id FROM notification_outbox
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE notification_outbox o
SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => %(lease_s)s)
FROM c WHERE o.id = c.id
RETURNING o.id, o.job_id, o.channel, o.target, o.event, o.payload, o.attempts;

-- name: outbox_done
-- The outcome of a claimed attempt; ignored if the lease ran out and another took it.
UPDATE notification_outbox
SET status = %(status)s, last_error = %(error)s,
    sent_at = CASE WHEN %(status)s = 'sent' THEN now() END,
    next_attempt_at = now() + make_interval(secs => %(delay_s)s)
WHERE id = %(id)s AND attempts = %(attempts)s AND status = 'pending';

-- name: job_notifications
SELECT o.id, o.channel, o.target, o.event, o.status, o.attempts, o.last_error,
       o.created_at, o.sent_at, o.next_attempt_at, o.rule_id
FROM notification_outbox o JOIN jobs j ON j.id = o.job_id
WHERE o.job_id = %(id)s AND (%(org)s::text IS NULL OR j.organization_id = %(org)s)
ORDER BY o.id;

-- name: metrics_job_counts
-- The gauges' counts, in one statement (one snapshot), without counting the jobs table:
-- - kind 'jobs': jobs by status, type and queue, from the job-count rollup
--   (migration 0005): its totals plus the deltas not yet folded in, a few
--   hundred rows however many jobs there are;
-- - kind 'scheduled': per queue, the pending jobs whose time (runAt, retry
--   backoff) has not come. Read through jobs_waiting_since_idx, whose
--   greatest(created_at, run_at) is above now() exactly for them (a job is never
--   created in the future, nor dispatched before its time), so this costs the
--   waiting jobs only; `run_at > now()` is checked on the row as well.
SELECT 'jobs' AS kind, status, type, queue, sum(n)::bigint AS n FROM (
    SELECT type, queue, status, n FROM job_counts
    UNION ALL
    SELECT type, queue, status, n FROM job_count_deltas
) c
GROUP BY status, type, queue
HAVING sum(n) <> 0
UNION ALL
SELECT 'scheduled', 'pending', NULL, queue, count(*)
FROM jobs
WHERE status = 'pending' AND dispatched_at IS NULL
  AND greatest(created_at, run_at) > now() AND run_at > now()
GROUP BY queue;

-- name: metrics_dispatch_lag
-- Seconds the longest-waiting runnable job has waited. Read in order from
-- jobs_waiting_since_idx, so it usually touches one entry; rows held back on
-- purpose (paused queue, unfinished dependency) are passed over, at most 10,000.
SELECT extract(epoch FROM now() - x.since) AS lag_s FROM (
    SELECT greatest(j.created_at, j.run_at) AS since, j.queue, j.depends_on
    FROM jobs j
    WHERE j.status = 'pending' AND j.dispatched_at IS NULL
      AND greatest(j.created_at, j.run_at) <= now()
    ORDER BY greatest(j.created_at, j.run_at)
    LIMIT 10000
) x
WHERE NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = x.queue AND q.paused)
  AND (cardinality(x.depends_on) = 0 OR NOT EXISTS (
        SELECT 1 FROM jobs p WHERE p.id = ANY(x.depends_on) AND p.status <> 'completed'))
ORDER BY x.since
LIMIT 1;

-- name: metrics_workers
SELECT count(*) AS processes, coalesce(sum(threads), 0) AS threads,
       coalesce(sum(cardinality(current_jobs)), 0) AS busy
FROM workers
WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => %(dead_after)s);

-- name: list_batches
-- Batches newest first (of one organization, or all; or the one `id`), each
-- with its counts by status and aggregate progress; `open` keeps only those
-- not finished. The page is chosen before the jobs are joined, so a page
-- costs its batches' jobs only (read through jobs_batch_idx).
WITH b AS (
    SELECT * FROM batches
    WHERE (%(org)s::text IS NULL OR organization_id = %(org)s)
      AND (%(id)s::uuid IS NULL OR id = %(id)s)
      AND (NOT %(open)s OR completed_at IS NULL)
    ORDER BY created_at DESC, id
    LIMIT %(limit)s OFFSET %(offset)s
)
SELECT b.id, b.user_id, b.organization_id, b.total, b.created_at, b.completed_at,
       count(j.id) FILTER (WHERE j.status = 'pending') AS pending,
       count(j.id) FILTER (WHERE j.status = 'active') AS active,
       count(j.id) FILTER (WHERE j.status = 'completed') AS completed,
       count(j.id) FILTER (WHERE j.status = 'failed') AS failed,
       count(j.id) FILTER (WHERE j.status = 'cancelled') AS cancelled,
       coalesce(sum(CASE WHEN j.status IN ('completed', 'failed', 'cancelled') THEN 100.0
                         WHEN j.progress_total > 0
                         THEN least(100.0, 100.0 * j.progress_current / j.progress_total)
                         ELSE 0 END) / nullif(count(j.id), 0), 0) AS percentage
FROM b LEFT JOIN jobs j ON j.batch_id = b.id
GROUP BY b.id, b.user_id, b.organization_id, b.total, b.created_at, b.completed_at
ORDER BY b.created_at DESC, b.id;

-- name: count_batches
SELECT count(*) AS n FROM batches
WHERE (%(org)s::text IS NULL OR organization_id = %(org)s)
  AND (NOT %(open)s OR completed_at IS NULL);
