-- Only for legacy tables that have no key on job_uuid.
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_jobs_job_uuid' AND object_id = OBJECT_ID(N'dbo.armada_jobs'))
    CREATE INDEX ix_armada_jobs_job_uuid ON dbo.armada_jobs (job_uuid);
