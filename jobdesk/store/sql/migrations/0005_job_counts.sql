-- Job counts and run-time histograms kept by PostgreSQL itself, so that list
-- totals and stats read a few hundred rows instead of counting the jobs table.
--
-- Every statement that inserts, updates or deletes jobs appends what it
-- changed, netted per key, to a delta table: statement-level AFTER triggers
-- over the statement's transition tables, one INSERT per statement and none
-- when no key changed (progress, claims). Writers only ever append, so
-- concurrent writers never wait on one another. The server folds the deltas
-- into the totals every second (jobs_rollup_compact). A count is the sum over
-- totals and deltas: exact in any snapshot, whether or not compaction ran.

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

SELECT jobs_rollup_rebuild();
