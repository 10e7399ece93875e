-- Indexes the list queries need (newest first, with the uuid as tie-break for stable pages).
-- Declared keys stay under 900 bytes (an NVARCHAR(255) key is 510), so a second uuid goes in
-- INCLUDE. On fresh tables the clustered primary key is appended to each index key anyway.
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_runs_datetime' AND object_id = OBJECT_ID(N'dbo.armada_runs'))
    CREATE INDEX ix_armada_runs_datetime ON dbo.armada_runs (run_datetime, run_uuid);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_jobs_datetime' AND object_id = OBJECT_ID(N'dbo.armada_jobs'))
    CREATE INDEX ix_armada_jobs_datetime ON dbo.armada_jobs (job_datetime, job_uuid);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_jobs_run' AND object_id = OBJECT_ID(N'dbo.armada_jobs'))
    CREATE INDEX ix_armada_jobs_run ON dbo.armada_jobs (run_uuid, job_datetime)
        INCLUDE (job_uuid);
-- The job counts of a run, by status, read from the index alone (list_runs). Both columns
-- are in the key, as on SQLite, so that each status is a seek: at most 1,020 bytes, within
-- the 1,700 that SQL Server 2016 and later allow a nonclustered key (900 before).
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_jobs_run_status' AND object_id = OBJECT_ID(N'dbo.armada_jobs'))
    CREATE INDEX ix_armada_jobs_run_status ON dbo.armada_jobs (run_uuid, job_status);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_events_job' AND object_id = OBJECT_ID(N'dbo.armada_events'))
    CREATE INDEX ix_armada_events_job ON dbo.armada_events (job_uuid, event_datetime)
        INCLUDE (event_uuid);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_events_datetime' AND object_id = OBJECT_ID(N'dbo.armada_events'))
    CREATE INDEX ix_armada_events_datetime ON dbo.armada_events (event_datetime, event_uuid);
-- The Failed and Lost jobs of every run, newest first (list_failed_jobs_page).
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_jobs_status_datetime' AND object_id = OBJECT_ID(N'dbo.armada_jobs'))
    CREATE INDEX ix_armada_jobs_status_datetime ON dbo.armada_jobs (job_status, job_datetime)
        INCLUDE (job_uuid);
