SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
FROM armada_jobs
ORDER BY job_datetime DESC, job_uuid DESC
LIMIT :limit OFFSET :offset;
