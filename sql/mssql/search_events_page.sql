-- SQL Server has no search index (migrations/0004_search_index says why, and why not a full-text
-- index): the operation searches with search_events_like_page or
-- search_events_of_job_like_page there and never runs this, which is kept so that both
-- dialects name the same queries: LIKE on every term, any job.
SELECT TOP (:limit) event_uuid, event_content, job_uuid, event_datetime, event_status
FROM armada_events
WHERE :match IS NOT NULL
    AND (:job_uuid IS NULL OR job_uuid = :job_uuid)
    AND event_datetime >= :since
    AND event_datetime <= :before_datetime
    AND (event_datetime < :before_datetime OR event_uuid < :before_uuid)
    AND (:event_status IS NULL OR event_status = :event_status)
    AND (:like1 IS NULL OR event_content LIKE :like1 ESCAPE '\')
    AND (:like2 IS NULL OR event_content LIKE :like2 ESCAPE '\')
    AND (:like3 IS NULL OR event_content LIKE :like3 ESCAPE '\')
    AND (:like4 IS NULL OR event_content LIKE :like4 ESCAPE '\')
ORDER BY event_datetime DESC, event_uuid DESC;
