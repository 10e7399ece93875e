-- Whether the search index can answer (indexed) and how many rows it still lacks.
SELECT 1 AS indexed, COALESCE(MAX(pending_to - pending_from), 0) AS pending_rows
FROM armada_search_progress
WHERE name = 'armada_events';
