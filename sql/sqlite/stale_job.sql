-- The job, when it is still Running and silent for :stale_seconds or more (read in
-- the transaction that marks it Lost): its run, its status, for how long it was silent, and
-- its agent's last report (by the agent's clock: its datetime and its newest event's).
SELECT job.run_uuid, job.job_status,
    (julianday('now') - julianday(activity.last_report)) * 86400.0 AS silent_seconds,
    job.job_datetime,
    (SELECT MAX(event.event_datetime) FROM armada_events AS event
     WHERE event.job_uuid = :job_uuid) AS last_event_datetime
FROM armada_job_activity AS activity
JOIN armada_jobs AS job ON job.job_uuid = activity.job_uuid
WHERE activity.job_uuid = :job_uuid
    AND activity.last_report < strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || :stale_seconds || ' seconds')
    AND job.job_status = 'Running'
LIMIT 1;
