-- Retention, in the transaction that deletes the run: a row when the run is still old as
-- list_runs_older_than says (an agent that reported since it was listed keeps it).
-- UPDLOCK, HOLDLOCK on the run's jobs until the commit, as delete_run_events takes them: a
-- job of the run written meanwhile waits for the deletion instead of being deleted unseen.
SELECT TOP (1) 1 AS old
FROM armada_runs AS run
WHERE run.run_uuid = :run_uuid
    AND run.run_datetime < :cutoff
    AND NOT EXISTS (SELECT 1 FROM armada_jobs AS job WITH (UPDLOCK, HOLDLOCK)
                    WHERE job.run_uuid = run.run_uuid
                        AND job.job_status IN ('Running', 'Pending'))
    AND NOT EXISTS (SELECT 1 FROM armada_jobs AS job WITH (UPDLOCK, HOLDLOCK)
                    WHERE job.run_uuid = run.run_uuid AND job.job_datetime >= :cutoff)
    AND NOT EXISTS (SELECT 1 FROM armada_jobs AS job WITH (UPDLOCK, HOLDLOCK)
                    JOIN armada_events AS event ON event.job_uuid = job.job_uuid
                    WHERE job.run_uuid = run.run_uuid AND event.event_datetime >= :cutoff);
