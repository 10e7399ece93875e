-- Whether the search index can answer (indexed), how many rows that predate it it still
-- lacks (pending_rows), and whether new rows wait in its queue (queued: an EXISTS, not a
-- count, as every search reads this too).
SELECT 1 AS indexed, COALESCE(MAX(pending_to - pending_from), 0) AS pending_rows,
    EXISTS (SELECT 1 FROM armada_search_queue) AS queued
FROM armada_search_progress
WHERE name = 'armada_events';
