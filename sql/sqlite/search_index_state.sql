-- Whether the search index can answer (indexed), how many rows that predate it it still
-- lacks (pending_rows), and how many new rows wait in the queue (queued_rows).
SELECT 1 AS indexed, COALESCE(MAX(pending_to - pending_from), 0) AS pending_rows,
    (SELECT COUNT(*) FROM armada_search_queue) AS queued_rows
FROM armada_search_progress
WHERE name = 'armada_events';
