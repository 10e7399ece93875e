-- Index the rows that existed before the index (armada_search_progress) up to :last_rowid
-- (pending_event_sizes chose them: so much text per transaction), in one short write
-- transaction; :last_rowid NULL: no such row is left. Run again until search_index_state
-- has no pending rows.
INSERT INTO armada_events_search (rowid, event_content)
SELECT event.rowid, event.event_content
FROM armada_events AS event, armada_search_progress AS progress
WHERE progress.name = 'armada_events'
    AND event.rowid >= progress.pending_from
    AND event.rowid <= :last_rowid
    AND event.rowid < progress.pending_to;
UPDATE armada_search_progress
SET pending_from = CASE WHEN :last_rowid IS NOT NULL AND :last_rowid + 1 < pending_to
                        THEN :last_rowid + 1 ELSE pending_to END
WHERE name = 'armada_events';
