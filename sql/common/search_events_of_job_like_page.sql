-- list_events_of_job_page with every term as a LIKE pattern (:like1-4, NULL when unused):
-- reads the job's events only, newest first (ix_armada_events_job).
SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
FROM armada_events
WHERE job_uuid = :job_uuid
    AND event_datetime >= :since
    AND event_datetime <= :before_datetime
    AND (event_datetime < :before_datetime OR event_uuid < :before_uuid)
    AND (:event_status IS NULL OR event_status = :event_status)
    AND (:like1 IS NULL OR event_content LIKE :like1 ESCAPE '\')
    AND (:like2 IS NULL OR event_content LIKE :like2 ESCAPE '\')
    AND (:like3 IS NULL OR event_content LIKE :like3 ESCAPE '\')
    AND (:like4 IS NULL OR event_content LIKE :like4 ESCAPE '\')
ORDER BY event_datetime DESC, event_uuid DESC
LIMIT :limit;
