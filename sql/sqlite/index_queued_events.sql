-- Index the oldest :chunk_rows queued events (armada_search_queue) and take them off the
-- queue, in one write transaction: both statements see the same rows. Run again while
-- search_index_state counts queued rows.
INSERT INTO armada_events_search (rowid, event_content)
SELECT event.rowid, event.event_content
FROM armada_events AS event
WHERE event.rowid IN (
    SELECT event_rowid FROM armada_search_queue ORDER BY event_rowid LIMIT :chunk_rows
);
DELETE FROM armada_search_queue
WHERE event_rowid IN (
    SELECT event_rowid FROM armada_search_queue ORDER BY event_rowid LIMIT :chunk_rows
);
