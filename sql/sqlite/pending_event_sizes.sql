-- The rows that existed before the search index and that it still lacks
-- (armada_search_progress), oldest first, each with the length of its text:
-- build_search_index_chunk takes as many as fit its budget of text per transaction,
-- reading them one by one (what lies beyond is not read).
SELECT event.rowid, COALESCE(length(event.event_content), 0) AS characters
FROM armada_events AS event, armada_search_progress AS progress
WHERE progress.name = 'armada_events'
    AND event.rowid >= progress.pending_from
    AND event.rowid < progress.pending_to
ORDER BY event.rowid
LIMIT :chunk_rows;
