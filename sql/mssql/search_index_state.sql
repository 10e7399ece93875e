-- SQL Server has no search index (migrations/0004_search_index says why): every search uses LIKE.
SELECT 0 AS indexed, 0 AS pending_rows, 0 AS queued;
