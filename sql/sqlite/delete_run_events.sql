DELETE FROM armada_events
WHERE job_uuid IN (SELECT job_uuid FROM armada_jobs WHERE run_uuid = :run_uuid);
