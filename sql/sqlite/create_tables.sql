-- Fresh tables; existing (legacy) tables are left exactly as they are.
CREATE TABLE IF NOT EXISTS armada_runs (
    run_uuid TEXT NOT NULL PRIMARY KEY,
    run_datetime DATETIME NOT NULL
);
CREATE TABLE IF NOT EXISTS armada_jobs (
    job_uuid TEXT NOT NULL PRIMARY KEY,
    run_uuid TEXT NOT NULL,
    job_datetime DATETIME NOT NULL,
    job_associated_agent TEXT NOT NULL,
    job_status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS armada_events (
    event_uuid TEXT NOT NULL PRIMARY KEY,
    event_content TEXT NOT NULL,
    job_uuid TEXT NOT NULL,
    event_datetime DATETIME NOT NULL,
    event_status TEXT NOT NULL
);
-- Earlier versions kept each run's job counts in a table of the service's own, by triggers
-- on armada_jobs; runs are now counted from their jobs when read (list_runs). Dropped so that
-- job writes stop paying for the triggers: that table only held the service's copy of the
-- counts, never Armada data.
DROP TRIGGER IF EXISTS armada_job_counts_insert;
DROP TRIGGER IF EXISTS armada_job_counts_delete;
DROP TRIGGER IF EXISTS armada_job_counts_update;
DROP TABLE IF EXISTS armada_job_counts;
