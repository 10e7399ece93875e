-- The run of a job, read in the transaction that writes under the job.
SELECT TOP (1) run_uuid
FROM armada_jobs
WHERE job_uuid = :job_uuid;
