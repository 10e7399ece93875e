-- Retention: the runs whose last report is before the cutoff (the newest of their datetime,
-- their jobs' and their events', as a run's last_report_datetime) and that have no Running or
-- Pending job, oldest first, one batch at a time. A run's last report is never before its own
-- datetime, so the range of ix_armada_runs_datetime holds them all; run_is_old says the same
-- of one run, again, in the transaction that deletes it.
SELECT run.run_uuid, run.run_datetime
FROM armada_runs AS run
WHERE run.run_datetime < :cutoff
    AND NOT EXISTS (SELECT 1 FROM armada_jobs AS job
                    WHERE job.run_uuid = run.run_uuid
                        AND job.job_status IN ('Running', 'Pending'))
    AND NOT EXISTS (SELECT 1 FROM armada_jobs AS job
                    WHERE job.run_uuid = run.run_uuid AND job.job_datetime >= :cutoff)
    AND NOT EXISTS (SELECT 1 FROM armada_jobs AS job
                    JOIN armada_events AS event ON event.job_uuid = job.job_uuid
                    WHERE job.run_uuid = run.run_uuid AND event.event_datetime >= :cutoff)
ORDER BY run.run_datetime, run.run_uuid
LIMIT :limit OFFSET :offset;
