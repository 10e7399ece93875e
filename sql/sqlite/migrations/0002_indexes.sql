-- Indexes the list queries need (newest first, with the uuid as tie-break for stable pages).
CREATE INDEX IF NOT EXISTS ix_armada_runs_datetime
    ON armada_runs (run_datetime, run_uuid);
CREATE INDEX IF NOT EXISTS ix_armada_jobs_datetime
    ON armada_jobs (job_datetime, job_uuid);
CREATE INDEX IF NOT EXISTS ix_armada_jobs_run
    ON armada_jobs (run_uuid, job_datetime, job_uuid);
-- The job counts of a run, by status, read from the index alone (list_runs).
CREATE INDEX IF NOT EXISTS ix_armada_jobs_run_status
    ON armada_jobs (run_uuid, job_status);
CREATE INDEX IF NOT EXISTS ix_armada_events_job
    ON armada_events (job_uuid, event_datetime, event_uuid);
CREATE INDEX IF NOT EXISTS ix_armada_events_datetime
    ON armada_events (event_datetime, event_uuid);
-- The Failed and Lost jobs of every run, newest first (list_failed_jobs_page).
CREATE INDEX IF NOT EXISTS ix_armada_jobs_status_datetime
    ON armada_jobs (job_status, job_datetime, job_uuid);
