-- list_jobs_of_run with filters; ix_armada_jobs_run seeks on the run and the datetime range.
SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
FROM armada_jobs
WHERE run_uuid = :run_uuid
    AND job_datetime >= :since AND job_datetime < :until
    AND (:job_status IS NULL OR job_status = :job_status)
    AND (:job_associated_agent IS NULL OR job_associated_agent = :job_associated_agent)
ORDER BY job_datetime DESC, job_uuid DESC
LIMIT :limit OFFSET :offset;
