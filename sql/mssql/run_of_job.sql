-- The run of a job and its status, read in the transaction that writes under the job (an
-- event of a Lost job brings it back: operations.create_event).
-- UPDLOCK, HOLDLOCK, as the write that follows takes them: the status read stays the job's
-- until the commit (a sweep cannot mark it Lost in between, unannounced).
SELECT TOP (1) run_uuid, job_status
FROM armada_jobs WITH (UPDLOCK, HOLDLOCK)
WHERE job_uuid = :job_uuid;
