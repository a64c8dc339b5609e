-- Tables the test job types write to, to prove what really ran.
CREATE TABLE IF NOT EXISTS test_executions (
    id          bigserial PRIMARY KEY,
    job_id      uuid NOT NULL,
    attempt     integer NOT NULL,
    worker_pid  integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
