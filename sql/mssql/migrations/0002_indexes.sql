-- An index is looked for under its name, or under the name Babelfish gives it in sys.indexes
-- (PostgreSQL names indexes per schema: name + table + md5(name), cut to 63 characters with a
-- hash of the whole; tests/test_sql_files.py checks each against that rule).
-- Indexes the list queries need (newest first, with the uuid as tie-break for stable pages).
-- Declared keys stay under 900 bytes (an NVARCHAR(255) key is 510), so a second uuid goes in
-- INCLUDE. On fresh tables the clustered primary key is appended to each index key anyway.
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_runs')
                   AND name IN (N'ix_armada_runs_datetime',
                                N'ix_armada_runs_datetimearmada_r999538d230764d07a7c86702fecc5c7d'))
    CREATE INDEX ix_armada_runs_datetime ON dbo.armada_runs (run_datetime, run_uuid);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_jobs')
                   AND name IN (N'ix_armada_jobs_datetime',
                                N'ix_armada_jobs_datetimearmada_j3363a0b64cdee66a4d1ee3851f75bbcf'))
    CREATE INDEX ix_armada_jobs_datetime ON dbo.armada_jobs (job_datetime, job_uuid);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_jobs')
                   AND name IN (N'ix_armada_jobs_run',
                                N'ix_armada_jobs_runarmada_jobs3e9384070067cd5b850b81900db0678a'))
    CREATE INDEX ix_armada_jobs_run ON dbo.armada_jobs (run_uuid, job_datetime)
        INCLUDE (job_uuid);
-- The job counts of a run, by status, read from the index alone (list_runs). Both columns
-- are in the key, as on SQLite, so that each status is a seek: at most 1,020 bytes, within
-- the 1,700 that SQL Server 2016 and later allow a nonclustered key (900 before).
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_jobs')
                   AND name IN (N'ix_armada_jobs_run_status',
                                N'ix_armada_jobs_run_statusarmada9f465246511e261bdcdbcc20f8d47194'))
    CREATE INDEX ix_armada_jobs_run_status ON dbo.armada_jobs (run_uuid, job_status);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_events')
                   AND name IN (N'ix_armada_events_job',
                                N'ix_armada_events_jobarmada_even4e946a70339006a6f4558df193eb7ed7'))
    CREATE INDEX ix_armada_events_job ON dbo.armada_events (job_uuid, event_datetime)
        INCLUDE (event_uuid);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_events')
                   AND name IN (N'ix_armada_events_datetime',
                                N'ix_armada_events_datetimearmadaca5549bfef32b7289ed81db295788f61'))
    CREATE INDEX ix_armada_events_datetime ON dbo.armada_events (event_datetime, event_uuid);
-- The Failed and Lost jobs of every run, newest first (list_failed_jobs_page).
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_jobs')
                   AND name IN (N'ix_armada_jobs_status_datetime',
                                N'ix_armada_jobs_status_datetimeaa03ed936b1168555961ce6756cdfe32b'))
    CREATE INDEX ix_armada_jobs_status_datetime ON dbo.armada_jobs (job_status, job_datetime)
        INCLUDE (job_uuid);
