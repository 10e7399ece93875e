-- The jobs of a run by status, for an alert (ix_armada_jobs_run_status, the index alone).
SELECT job_status, COUNT(*) AS jobs
FROM armada_jobs
WHERE run_uuid = :run_uuid
GROUP BY job_status;
