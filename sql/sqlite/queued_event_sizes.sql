-- The events queued for the search index, oldest first, each with the length of its text:
-- index_queued_events takes as many as fit its budget of text per transaction, reading
-- them one by one (what lies beyond is not read).
SELECT queue.event_rowid, COALESCE(length(event.event_content), 0) AS characters
FROM armada_search_queue AS queue
LEFT JOIN armada_events AS event ON event.rowid = queue.event_rowid
ORDER BY queue.event_rowid
LIMIT :chunk_rows;
