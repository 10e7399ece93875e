-- Only for legacy tables that have no key on job_uuid.
CREATE INDEX IF NOT EXISTS ix_armada_jobs_job_uuid ON armada_jobs (job_uuid);
