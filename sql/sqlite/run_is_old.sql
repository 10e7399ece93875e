-- Retention, in the transaction that deletes the run: a row when the run is still old as
-- list_runs_older_than says (an agent that reported since it was listed keeps it).
SELECT 1 AS old
FROM armada_runs AS run
WHERE run.run_uuid = :run_uuid
    AND run.run_datetime < :cutoff
    AND NOT EXISTS (SELECT 1 FROM armada_jobs AS job
                    WHERE job.run_uuid = run.run_uuid
                        AND job.job_status IN ('Running', 'Pending'))
    AND NOT EXISTS (SELECT 1 FROM armada_jobs AS job
                    WHERE job.run_uuid = run.run_uuid AND job.job_datetime >= :cutoff)
    AND NOT EXISTS (SELECT 1 FROM armada_jobs AS job
                    JOIN armada_events AS event ON event.job_uuid = job.job_uuid
                    WHERE job.run_uuid = run.run_uuid AND event.event_datetime >= :cutoff)
LIMIT 1;
