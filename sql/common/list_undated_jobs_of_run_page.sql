-- A run's jobs with no datetime (legacy rows; fresh tables require one), after `after_uuid`
-- in uuid order: the end of the run's jobs, which the datetime keyset cannot reach. Ordered
-- by (job_datetime, job_uuid): uuid order here (all NULL), the order ix_armada_jobs_run holds.
SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
FROM armada_jobs
WHERE run_uuid = :run_uuid
    AND job_datetime IS NULL
    AND job_uuid > :after_uuid
ORDER BY job_datetime, job_uuid
LIMIT :limit;
