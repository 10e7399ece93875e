-- The Running jobs silent for :stale_seconds or more, longest silent first: one range of
-- ix_armada_job_activity_last_report (Running and Pending jobs), less the Pending ones: a job
-- no agent has taken yet is waiting, not lost (README "Lost jobs").
SELECT activity.job_uuid
FROM armada_job_activity AS activity
WHERE activity.last_report < strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || :stale_seconds || ' seconds')
    AND EXISTS (SELECT 1 FROM armada_jobs AS job
                WHERE job.job_uuid = activity.job_uuid AND job.job_status = 'Running')
ORDER BY activity.last_report
LIMIT :limit;
