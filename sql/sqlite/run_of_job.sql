-- The run of a job, read in the transaction that writes under the job.
SELECT run_uuid
FROM armada_jobs
WHERE job_uuid = :job_uuid
LIMIT 1;
