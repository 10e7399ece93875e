-- Only for legacy tables that have no key on job_uuid.
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_jobs')
                   AND name IN (N'ix_armada_jobs_job_uuid',
                                N'ix_armada_jobs_job_uuidarmada_j77fa0e0092e697fe4aee42e570eeda9b'))
    CREATE INDEX ix_armada_jobs_job_uuid ON dbo.armada_jobs (job_uuid);
