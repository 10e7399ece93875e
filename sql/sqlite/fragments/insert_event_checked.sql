-- An event inserted unless its job is unknown or the event already exists.
INSERT INTO armada_events (event_uuid, event_content, job_uuid, event_datetime, event_status)
SELECT :event_uuid, :event_content, :job_uuid, :event_datetime, :event_status
WHERE EXISTS (SELECT 1 FROM armada_jobs WHERE job_uuid = :job_uuid)
    AND NOT EXISTS (SELECT 1 FROM armada_events WHERE event_uuid = :event_uuid);
