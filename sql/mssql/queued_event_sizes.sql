-- SQL Server has no search index and so no queue of rows to index (migrations/0004_search_index);
-- never run there, as search_index_state answers indexed = 0. It selects nothing.
SELECT TOP (:chunk_rows) 0 AS event_rowid, 0 AS characters FROM armada_events WHERE 1 = 0;
