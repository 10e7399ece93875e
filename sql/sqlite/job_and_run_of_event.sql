-- The job and run of an event, read in the transaction that writes the event.
SELECT e.job_uuid, j.run_uuid
FROM armada_events AS e
LEFT JOIN armada_jobs AS j ON j.job_uuid = e.job_uuid
WHERE e.event_uuid = :event_uuid
LIMIT 1;
