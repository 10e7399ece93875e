-- The run of a job, read in the transaction that writes under the job, and its status (an
-- event of a Lost job brings it back: operations.create_event).
SELECT run_uuid, job_status
FROM armada_jobs
WHERE job_uuid = :job_uuid
LIMIT 1;
