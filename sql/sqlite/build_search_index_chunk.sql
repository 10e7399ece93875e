-- Index the next :chunk_rows rows that existed before the index (armada_search_progress),
-- in one short write transaction; run again until search_index_state has no pending rows.
INSERT INTO armada_events_search (rowid, event_content)
SELECT event.rowid, event.event_content
FROM armada_events AS event, armada_search_progress AS progress
WHERE progress.name = 'armada_events'
    AND event.rowid >= progress.pending_from
    AND event.rowid < progress.pending_from + :chunk_rows
    AND event.rowid < progress.pending_to;
UPDATE armada_search_progress
SET pending_from = CASE WHEN pending_from + :chunk_rows < pending_to
                        THEN pending_from + :chunk_rows ELSE pending_to END
WHERE name = 'armada_events';
