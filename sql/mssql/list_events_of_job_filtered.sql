-- list_events_of_job with filters; ix_armada_events_job seeks on the job and the datetime range.
SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
FROM dbo.armada_events
WHERE job_uuid = :job_uuid
    AND event_datetime >= :since AND event_datetime < :until
    AND (:event_status IS NULL OR event_status = :event_status)
ORDER BY event_datetime DESC, event_uuid DESC;
