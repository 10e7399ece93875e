-- One page of a run's jobs, newest first, strictly older than the keyset position
-- (before_datetime, before_uuid): each page starts after the last job of the one before,
-- whatever is added meanwhile (the export).
SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
FROM armada_jobs
WHERE run_uuid = :run_uuid
    AND job_datetime <= :before_datetime
    AND (job_datetime < :before_datetime OR job_uuid < :before_uuid)
ORDER BY job_datetime DESC, job_uuid DESC
LIMIT :limit;
