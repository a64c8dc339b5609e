-- Cron schedules, notifications on a job's end, and what metrics read.

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
