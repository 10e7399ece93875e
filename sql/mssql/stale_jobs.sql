-- The live jobs silent for :stale_seconds or more, longest silent first: one range of
-- ix_armada_job_activity_last_report (the table holds Running and Pending jobs only).
SELECT TOP (:limit) job_uuid
FROM armada_job_activity
WHERE last_report < DATEADD(millisecond, -CAST(:stale_seconds * 1000 AS INT), SYSUTCDATETIME())
ORDER BY last_report;
