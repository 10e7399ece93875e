-- UPDLOCK, HOLDLOCK on the run's jobs until commit: an event insert for one of them (which
-- locks its job the same way) waits, then finds the job gone, so no event is orphaned.
DELETE FROM armada_events
WHERE job_uuid IN (
    SELECT job_uuid FROM armada_jobs WITH (UPDLOCK, HOLDLOCK) WHERE run_uuid = :run_uuid
);
