SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
FROM dbo.armada_events
WHERE job_uuid = :job_uuid
ORDER BY event_datetime DESC, event_uuid DESC;
