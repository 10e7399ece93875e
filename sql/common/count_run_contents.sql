-- What purging one run would delete (purge --dry-run): its jobs, and their events.
SELECT
    (SELECT COUNT(*) FROM armada_jobs WHERE run_uuid = :run_uuid) AS jobs,
    (SELECT COUNT(*) FROM armada_events
     WHERE job_uuid IN (SELECT job_uuid FROM armada_jobs WHERE run_uuid = :run_uuid)) AS events;
