-- The run of a job, read in the transaction that writes under the job. No status: SQL Server
-- has no trigger that brings a Lost job back on an event (create_job_activity.sql), so an
-- event never tells that it did.
SELECT TOP (1) run_uuid, CAST(NULL AS NVARCHAR(255)) AS job_status
FROM armada_jobs
WHERE job_uuid = :job_uuid;
