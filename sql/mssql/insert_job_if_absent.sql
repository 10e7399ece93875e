-- UPDLOCK, HOLDLOCK: a concurrent insert of the same job_uuid waits instead of adding a second row.
INSERT INTO armada_jobs (job_uuid, run_uuid, job_datetime, job_associated_agent, job_status)
SELECT :job_uuid, :run_uuid, :job_datetime, :job_associated_agent, :job_status
WHERE NOT EXISTS (
    SELECT 1 FROM armada_jobs WITH (UPDLOCK, HOLDLOCK) WHERE job_uuid = :job_uuid
);
