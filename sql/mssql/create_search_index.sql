-- SQL Server: no search index is created. A full-text index needs a full-text catalog and
-- the Full-Text Search feature, which a database may not have, and it matches words, not
-- pieces of ids: searches use LIKE (search_index_state answers indexed = 0).
SELECT 0 AS indexed;
