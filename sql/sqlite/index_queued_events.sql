-- Index the queued events (armada_search_queue) up to :last_rowid (queued_event_sizes chose
-- them: so much text per transaction) and take them off the queue, in one write
-- transaction: both statements see the same rows. Run again while search_index_state
-- counts queued rows.
INSERT INTO armada_events_search (rowid, event_content)
SELECT event.rowid, event.event_content
FROM armada_events AS event
WHERE event.rowid IN (
    SELECT event_rowid FROM armada_search_queue WHERE event_rowid <= :last_rowid
);
DELETE FROM armada_search_queue WHERE event_rowid <= :last_rowid;
