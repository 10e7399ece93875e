-- SQL Server has no search index here (create_search_index): every search uses LIKE.
SELECT 0 AS indexed, 0 AS pending_rows;
