-- The Running jobs silent for :stale_seconds or more, longest silent first: one range of
-- ix_armada_job_activity_last_report (Running and Pending jobs), less the Pending ones: a job
-- no agent has taken yet is waiting, not lost (README "Lost jobs"). The jobs' id is compared
-- in armada_job_activity's binary collation, as the triggers do: that of fresh tables.
SELECT TOP (:limit) activity.job_uuid
FROM armada_job_activity AS activity
WHERE activity.last_report < DATEADD(millisecond, -CAST(:stale_seconds * 1000 AS INT),
                                     SYSUTCDATETIME())
    AND EXISTS (SELECT 1 FROM armada_jobs AS job
                WHERE job.job_uuid COLLATE Latin1_General_100_BIN2 = activity.job_uuid
                    AND job.job_status = 'Running')
ORDER BY activity.last_report;
