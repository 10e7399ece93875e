SELECT TOP (1) event_uuid, event_content, job_uuid, event_datetime, event_status
FROM armada_events
WHERE event_uuid = :event_uuid;
