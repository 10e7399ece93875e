-- The live jobs silent for :stale_seconds or more, longest silent first: one range of
-- ix_armada_job_activity_last_report (the table holds Running and Pending jobs only).
SELECT job_uuid
FROM armada_job_activity
WHERE last_report < strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || :stale_seconds || ' seconds')
ORDER BY last_report
LIMIT :limit;
