-- One page of the events whose content holds every term, newest first, strictly older than
-- the keyset position: candidates from the trigram index (:match, the terms of 3 characters
-- or more, each quoted) and every event still queued for it, then the usual filters and every term as a LIKE pattern (:like1-4),
-- which decides: a match is the same as where there is no index. The unary + keeps SQLite
-- from walking the datetime index over every event instead of asking the search index.
SELECT event_uuid, event_content, job_uuid, event_datetime, event_status
FROM armada_events
WHERE rowid IN (
        SELECT rowid FROM armada_events_search WHERE armada_events_search MATCH :match
        UNION ALL
        SELECT event_rowid FROM armada_search_queue
    )
    AND (:job_uuid IS NULL OR job_uuid = :job_uuid)
    AND +event_datetime >= :since
    AND +event_datetime <= :before_datetime
    AND (event_datetime < :before_datetime OR event_uuid < :before_uuid)
    AND (:event_status IS NULL OR event_status = :event_status)
    AND (:like1 IS NULL OR event_content LIKE :like1 ESCAPE '\')
    AND (:like2 IS NULL OR event_content LIKE :like2 ESCAPE '\')
    AND (:like3 IS NULL OR event_content LIKE :like3 ESCAPE '\')
    AND (:like4 IS NULL OR event_content LIKE :like4 ESCAPE '\')
ORDER BY event_datetime DESC, event_uuid DESC
LIMIT :limit;
