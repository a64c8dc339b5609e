-- Dependencies' failure policy, batches, rate limits, and why a queue is held back.

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
