-- The search's first try where the index is complete: the matches among the :scan_rows
-- newest of every job's events after the keyset position. A word in most events fills a page
-- here at once, where the index would hand over every row holding it to be sorted; when
-- this finds less than a page, the operation asks the index (search_events_page).
SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
FROM (
    SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
    FROM armada_events
    WHERE event_datetime >= :since
        AND event_datetime <= :before_datetime
        AND (event_datetime < :before_datetime OR event_uuid < :before_uuid)
        AND (:event_status IS NULL OR event_status = :event_status)
    ORDER BY event_datetime DESC, event_uuid DESC
    LIMIT :scan_rows
) AS recent
WHERE 1 = 1
    AND (:like1 IS NULL OR event_content LIKE :like1 ESCAPE '\')
    AND (:like2 IS NULL OR event_content LIKE :like2 ESCAPE '\')
    AND (:like3 IS NULL OR event_content LIKE :like3 ESCAPE '\')
    AND (:like4 IS NULL OR event_content LIKE :like4 ESCAPE '\')
ORDER BY event_datetime DESC, event_uuid DESC
LIMIT :limit;
