-- list_jobs with filters; both datetime bounds are always given, so ix_armada_jobs_datetime seeks.
SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
FROM armada_jobs
WHERE job_datetime >= :since AND job_datetime < :until
    AND (:job_status IS NULL OR job_status = :job_status)
    AND (:job_associated_agent IS NULL OR job_associated_agent = :job_associated_agent)
ORDER BY job_datetime DESC, job_uuid DESC
LIMIT :limit OFFSET :offset;
