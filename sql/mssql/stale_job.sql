-- The job, when it is still Running and silent for :stale_seconds or more (read in
-- the transaction that marks it Lost): its run, its status, for how long it was silent, and
-- its agent's last report (by the agent's clock: its datetime and its newest event's).
-- Each table is sought by the parameter, never one id column compared to the other: a legacy
-- armada_jobs keeps its own collation, armada_job_activity's is binary
-- (migrations/0005_job_activity).
SELECT TOP (1) job.run_uuid, job.job_status,
    DATEDIFF_BIG(millisecond, activity.last_report, SYSUTCDATETIME()) / 1000.0 AS silent_seconds,
    job.job_datetime,
    (SELECT MAX(event.event_datetime) FROM armada_events AS event
     WHERE event.job_uuid = :job_uuid) AS last_event_datetime
FROM armada_job_activity AS activity
JOIN armada_jobs AS job WITH (UPDLOCK) ON job.job_uuid = :job_uuid
WHERE activity.job_uuid = :job_uuid
    AND activity.last_report < DATEADD(millisecond, -CAST(:stale_seconds * 1000 AS INT),
                                       SYSUTCDATETIME())
    AND job.job_status = 'Running';
