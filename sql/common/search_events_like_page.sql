-- list_events_page with every term as a LIKE pattern (:like1-4, NULL when unused): the
-- search of every job where there is no search index, or it is still being built, or a
-- term is shorter than 3 characters. No index helps a LIKE '%…%': each page reads events
-- newest first until it has found a page of them.
SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
FROM armada_events
WHERE 1 = 1
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
