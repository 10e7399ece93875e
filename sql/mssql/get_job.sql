SELECT TOP (1) job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
FROM armada_jobs
WHERE job_uuid = :job_uuid;
