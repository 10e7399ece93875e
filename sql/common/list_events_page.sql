-- One page of every job's events, newest first, strictly older than the keyset position
-- (before_datetime, before_uuid); list_events_of_job_page without the job, on
-- ix_armada_events_datetime. The whole list is read as a run of such pages (streamed).
SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
FROM armada_events
WHERE event_datetime >= :since
    AND event_datetime <= :before_datetime
    AND (event_datetime < :before_datetime OR event_uuid < :before_uuid)
    AND (:event_status IS NULL OR event_status = :event_status)
ORDER BY event_datetime DESC, event_uuid DESC
LIMIT :limit;
