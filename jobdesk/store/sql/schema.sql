-- The current schema, declared whole. tests/migration checks that the migrations produce it.

CREATE TABLE jobs (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type                text NOT NULL,
    name                text NOT NULL,
    description         text,
    queue               text NOT NULL,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'active', 'completed', 'failed', 'cancelled')),
    priority            integer NOT NULL DEFAULT 0,
    data                jsonb NOT NULL DEFAULT '{}'::jsonb,
    progress_current    bigint NOT NULL DEFAULT 0,
    progress_total      bigint NOT NULL DEFAULT 0,
    progress_message    text,
    result              jsonb,
    error               jsonb,
    attempts            integer NOT NULL DEFAULT 0,
    max_attempts        integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    backoff_base_ms     integer NOT NULL DEFAULT 1000,
    backoff_cap_ms      integer NOT NULL DEFAULT 300000,
    user_id             text NOT NULL,
    organization_id     text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    completed_at        timestamptz,
    -- not before this time (runAt, retry backoff)
    run_at              timestamptz NOT NULL DEFAULT now(),
    -- set while a message for the job is in Redis or a worker: the in-flight window
    dispatched_at       timestamptz,
    -- bumped at each dispatch; a message carries it, so a stale duplicate is refused
    dispatch_token      integer NOT NULL DEFAULT 0,
    worker_id           text,
    cancel_requested_at timestamptz,
    parent_id           uuid REFERENCES jobs (id) ON DELETE CASCADE,
    batch_id            uuid,
    depends_on          uuid[] NOT NULL DEFAULT '{}',
    idempotency_key     text,
    attempt_log         jsonb NOT NULL DEFAULT '[]'::jsonb
);

-- The dispatcher's claim: highest priority, then oldest, among runnable rows.
CREATE INDEX jobs_runnable_idx ON jobs (priority DESC, created_at, id)
    WHERE status = 'pending' AND dispatched_at IS NULL;
-- The in-flight window per queue.
CREATE INDEX jobs_inflight_idx ON jobs (queue)
    WHERE status = 'active' OR (status = 'pending' AND dispatched_at IS NOT NULL);
-- Lists: newest first within an organization, optionally by status or type.
CREATE INDEX jobs_org_created_idx ON jobs (organization_id, created_at DESC);
CREATE INDEX jobs_org_status_created_idx ON jobs (organization_id, status, created_at DESC);
CREATE INDEX jobs_org_type_created_idx ON jobs (organization_id, type, created_at DESC);
CREATE INDEX jobs_created_idx ON jobs (created_at DESC);
CREATE INDEX jobs_status_created_idx ON jobs (status, created_at DESC);
CREATE INDEX jobs_completed_idx ON jobs (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX jobs_parent_idx ON jobs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_batch_idx ON jobs (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_worker_idx ON jobs (worker_id) WHERE status = 'active';
CREATE UNIQUE INDEX jobs_idempotency_idx ON jobs (organization_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE api_tokens (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL DEFAULT '',
    user_id         text NOT NULL,
    organization_id text NOT NULL,
    is_admin        boolean NOT NULL DEFAULT false,
    -- sha256 of the token; the token itself is shown once and never stored
    token_hash      bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);

CREATE TABLE workers (
    id            text PRIMARY KEY,
    host          text NOT NULL,
    pid           integer NOT NULL,
    queues        text[] NOT NULL,
    threads       integer NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz,
    current_jobs  uuid[] NOT NULL DEFAULT '{}',
    processed     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0
);

CREATE TABLE queues (
    name        text PRIMARY KEY,
    paused      boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- document-processing: text chunks of the documents a job read, with their embeddings.
-- Vectors are real[] (pgvector is not available everywhere jobdesk runs);
-- similarity is computed in Python or SQL over the array.
CREATE TABLE document_chunks (
    id           bigserial PRIMARY KEY,
    job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    document     text NOT NULL,
    chunk_index  integer NOT NULL,
    content      text NOT NULL,
    char_start   integer NOT NULL,
    embedding    real[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, document, chunk_index)
);
CREATE INDEX document_chunks_document_idx ON document_chunks (document);

-- 0004: dependencies, batches, rate limits

ALTER TABLE jobs ADD COLUMN dependency_policy text NOT NULL DEFAULT 'fail'
    CHECK (dependency_policy IN ('fail', 'cancel'));
-- Pending jobs that wait on others: the propagation sweep's working set.
CREATE INDEX jobs_waiting_idx ON jobs (id)
    WHERE status = 'pending' AND cardinality(depends_on) > 0;

CREATE TABLE batches (
    id              uuid PRIMARY KEY,
    user_id         text NOT NULL,
    organization_id text NOT NULL,
    total           integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE INDEX batches_open_idx ON batches (created_at) WHERE completed_at IS NULL;

-- Token buckets and concurrency caps, per job type or per organization. The
-- dispatcher locks the rows it applies, so every server sees one budget.
CREATE TABLE rate_limits (
    scope           text NOT NULL CHECK (scope IN ('type', 'organization')),
    key             text NOT NULL,
    per_second      double precision CHECK (per_second > 0),
    max_concurrent  integer CHECK (max_concurrent > 0),
    tokens          double precision NOT NULL DEFAULT 0,
    refilled_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key),
    CHECK (per_second IS NOT NULL OR max_concurrent IS NOT NULL)
);

ALTER TABLE queues ADD COLUMN held_reason text;
ALTER TABLE queues ADD COLUMN held_at timestamptz;

-- 0003: cron schedules, notifications on a job's end, and what metrics read.
-- A job's own notification targets: [{channel, target, events}], NULL for none.
ALTER TABLE jobs ADD COLUMN notify jsonb;
-- Dispatch lag (metrics): the longest a runnable job has waited, read from the
-- first entry instead of a scan of the backlog. Holds only undispatched pending rows.
CREATE INDEX jobs_waiting_since_idx ON jobs ((greatest(created_at, run_at)))
    WHERE status = 'pending' AND dispatched_at IS NULL;

CREATE TABLE schedules (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL,
    cron            text NOT NULL,
    timezone        text NOT NULL DEFAULT 'UTC',
    -- the job each tick creates: {type, name, description, data, priority, maxAttempts, notify}
    job             jsonb NOT NULL,
    user_id         text NOT NULL,
    organization_id text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    -- what a server does with ticks that passed while none was running
    missed_policy   text NOT NULL DEFAULT 'coalesce'
                    CHECK (missed_policy IN ('coalesce', 'skip', 'all')),
    -- the next tick not yet fired; the scheduler claims rows whose time has come
    next_run_at     timestamptz NOT NULL,
    last_run_at     timestamptz,
    last_job_id     uuid,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, name)
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled;

-- Per organization and job type: announce every such job's end.
CREATE TABLE notification_rules (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id text NOT NULL,
    job_type        text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'slack', 'discord', 'webhook')),
    target          text NOT NULL,
    events          text[] NOT NULL DEFAULT '{completed,failed}'
                    CHECK (cardinality(events) > 0 AND events <@ '{completed,failed}'::text[]),
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, job_type, channel, target)
);

-- Notifications to deliver. One row per job end, channel, target and event:
-- every server hears every event, and the unique key lets only one insert
-- win. A job retried by hand and ending again has a new finished_at, so it is
-- announced again.
CREATE TABLE notification_outbox (
    id              bigserial PRIMARY KEY,
    job_id          uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    rule_id         uuid REFERENCES notification_rules (id) ON DELETE SET NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'slack', 'discord', 'webhook')),
    target          text NOT NULL,
    event           text NOT NULL CHECK (event IN ('completed', 'failed')),
    finished_at     timestamptz NOT NULL,
    -- {"event": "job-completed" | "job-failed", "data": the job as it ended}
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (job_id, channel, target, event, finished_at)
);
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at)
    WHERE status = 'pending';

-- 0005: job counts and run-time histograms, kept by triggers (see the migration for how).

-- (organization, type, queue, status) -> number of jobs.
CREATE TABLE job_counts (
    organization_id text NOT NULL,
    type            text NOT NULL,
    queue           text NOT NULL,
    status          text NOT NULL,
    n               bigint NOT NULL,
    PRIMARY KEY (organization_id, type, queue, status)
);
CREATE TABLE job_count_deltas (
    organization_id text NOT NULL,
    type            text NOT NULL,
    queue           text NOT NULL,
    status          text NOT NULL,
    n               bigint NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

-- Run times (completed_at - started_at) of completed jobs, per organization and
-- hour of completion: a histogram of 8 buckets per doubling, bucket b holding
-- run times in [2^(b/8), 2^((b+1)/8)) microseconds, with their exact sum. Kept
-- for jobs completed in the last 48 hours (stats read the last 24); older
-- hours are dropped by compaction, and changes to jobs completed before then
-- are not recorded.
CREATE TABLE job_durations (
    organization_id text NOT NULL,
    hour            integer NOT NULL,
    bucket          smallint NOT NULL,
    n               bigint NOT NULL,
    sum_us          bigint NOT NULL,
    PRIMARY KEY (organization_id, hour, bucket)
);
CREATE TABLE job_duration_deltas (
    organization_id text NOT NULL,
    hour            integer NOT NULL,
    bucket          smallint NOT NULL,
    n               bigint NOT NULL,
    sum_us          bigint NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

-- The histogram key of a job, NULL unless it completed in the last 48 hours.
-- Both sides of a change are judged at the same now(), so a job that did not
-- change adds and removes the same key.
CREATE FUNCTION jobs_duration_hour(status text, started_at timestamptz, completed_at timestamptz)
RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN status = 'completed' AND started_at IS NOT NULL
                 AND completed_at > now() - interval '48 hours'
                THEN floor(extract(epoch FROM completed_at) / 3600)::integer END
$$;

CREATE FUNCTION jobs_duration_us(started_at timestamptz, completed_at timestamptz)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT round(extract(epoch FROM completed_at - started_at) * 1000000)::bigint
$$;

CREATE FUNCTION jobs_duration_bucket(us bigint)
RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
    SELECT floor(ln(greatest(us, 1)::float8) / ln(2::float8) * 8)::smallint
$$;

CREATE FUNCTION jobs_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (organization_id, type, queue, status, n)
    SELECT organization_id, type, queue, status, count(*)
    FROM new_jobs GROUP BY 1, 2, 3, 4;
    IF EXISTS (SELECT 1 FROM new_jobs WHERE status = 'completed') THEN
        INSERT INTO job_duration_deltas (organization_id, hour, bucket, n, sum_us)
        SELECT organization_id, hour, jobs_duration_bucket(us), count(*), sum(us)
        FROM (SELECT organization_id, jobs_duration_hour(status, started_at, completed_at) AS hour,
                     jobs_duration_us(started_at, completed_at) AS us
              FROM new_jobs WHERE status = 'completed') d
        WHERE hour IS NOT NULL
        GROUP BY 1, 2, 3;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION jobs_rollup_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (organization_id, type, queue, status, n)
    SELECT organization_id, type, queue, status, -count(*)
    FROM old_jobs GROUP BY 1, 2, 3, 4;
    IF EXISTS (SELECT 1 FROM old_jobs WHERE status = 'completed') THEN
        INSERT INTO job_duration_deltas (organization_id, hour, bucket, n, sum_us)
        SELECT organization_id, hour, jobs_duration_bucket(us), -count(*), -sum(us)
        FROM (SELECT organization_id, jobs_duration_hour(status, started_at, completed_at) AS hour,
                     jobs_duration_us(started_at, completed_at) AS us
              FROM old_jobs WHERE status = 'completed') d
        WHERE hour IS NOT NULL
        GROUP BY 1, 2, 3;
    END IF;
    RETURN NULL;
END
$$;

-- New rows count +1, old rows -1, netted per key: a statement that changed no
-- status (progress, a dispatcher's claim) nets to nothing and inserts nothing.
CREATE FUNCTION jobs_rollup_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (organization_id, type, queue, status, n)
    SELECT organization_id, type, queue, status, sum(n)
    FROM (SELECT organization_id, type, queue, status, 1 AS n FROM new_jobs
          UNION ALL
          SELECT organization_id, type, queue, status, -1 AS n FROM old_jobs) c
    GROUP BY 1, 2, 3, 4
    HAVING sum(n) <> 0;
    -- Most updates (starts, claims, progress) touch no completed job.
    IF EXISTS (SELECT 1 FROM new_jobs WHERE status = 'completed')
       OR EXISTS (SELECT 1 FROM old_jobs WHERE status = 'completed') THEN
        INSERT INTO job_duration_deltas (organization_id, hour, bucket, n, sum_us)
        SELECT organization_id, hour, jobs_duration_bucket(us), sum(n), sum(n * us)
        FROM (SELECT organization_id, jobs_duration_hour(status, started_at, completed_at) AS hour,
                     jobs_duration_us(started_at, completed_at) AS us, 1 AS n
              FROM new_jobs WHERE status = 'completed'
              UNION ALL
              SELECT organization_id, jobs_duration_hour(status, started_at, completed_at),
                     jobs_duration_us(started_at, completed_at), -1
              FROM old_jobs WHERE status = 'completed') d
        WHERE hour IS NOT NULL
        GROUP BY 1, 2, 3
        HAVING sum(n) <> 0 OR sum(n * us) <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION jobs_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_count_deltas;
    DELETE FROM job_counts;
    DELETE FROM job_duration_deltas;
    DELETE FROM job_durations;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_rollup_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_rollup_insert();
CREATE TRIGGER jobs_rollup_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_rollup_update();
CREATE TRIGGER jobs_rollup_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_rollup_delete();
CREATE TRIGGER jobs_rollup_truncate AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_rollup_truncate();

-- Fold the deltas into the totals; drop zero rows and histogram hours past
-- 48 hours. One server at a time (the others skip: -1); deltas committed
-- meanwhile stay for the next run. Returns the number of deltas folded.
CREATE FUNCTION jobs_rollup_compact() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    counts bigint;
    durations bigint;
    oldest integer := floor(extract(epoch FROM now()) / 3600)::integer - 48;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7668124747593577844) THEN
        RETURN -1;
    END IF;
    WITH d AS (
        DELETE FROM job_count_deltas RETURNING organization_id, type, queue, status, n
    ), s AS (
        INSERT INTO job_counts AS c (organization_id, type, queue, status, n)
        SELECT organization_id, type, queue, status, sum(n) FROM d
        GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
        ON CONFLICT (organization_id, type, queue, status) DO UPDATE SET n = c.n + EXCLUDED.n
    )
    SELECT count(*) INTO counts FROM d;
    WITH d AS (
        DELETE FROM job_duration_deltas RETURNING organization_id, hour, bucket, n, sum_us
    ), s AS (
        INSERT INTO job_durations AS c (organization_id, hour, bucket, n, sum_us)
        SELECT organization_id, hour, bucket, sum(n), sum(sum_us) FROM d
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0 OR sum(sum_us) <> 0
        ON CONFLICT (organization_id, hour, bucket)
        DO UPDATE SET n = c.n + EXCLUDED.n, sum_us = c.sum_us + EXCLUDED.sum_us
    )
    SELECT count(*) INTO durations FROM d;
    IF counts > 0 THEN
        DELETE FROM job_counts WHERE n = 0;
    END IF;
    DELETE FROM job_durations WHERE n = 0 OR hour < oldest;
    RETURN counts + durations;
END
$$;

-- Recount everything from the jobs table, with job changes held off meanwhile.
-- The migration fills the rollup with it; run it by hand after anything that
-- changed jobs with triggers disabled (session_replication_role = replica).
CREATE FUNCTION jobs_rollup_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE jobs IN SHARE MODE;
    PERFORM pg_advisory_xact_lock(7668124747593577844);
    DELETE FROM job_count_deltas;
    DELETE FROM job_counts;
    DELETE FROM job_duration_deltas;
    DELETE FROM job_durations;
    INSERT INTO job_counts (organization_id, type, queue, status, n)
    SELECT organization_id, type, queue, status, count(*) FROM jobs GROUP BY 1, 2, 3, 4;
    INSERT INTO job_durations (organization_id, hour, bucket, n, sum_us)
    SELECT organization_id, hour, jobs_duration_bucket(us), count(*), sum(us)
    FROM (SELECT organization_id, jobs_duration_hour(status, started_at, completed_at) AS hour,
                 jobs_duration_us(started_at, completed_at) AS us
          FROM jobs
          WHERE status = 'completed' AND completed_at > now() - interval '48 hours') d
    WHERE hour IS NOT NULL
    GROUP BY 1, 2, 3;
END
$$;
