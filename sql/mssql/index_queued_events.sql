-- SQL Server has no search index and so no queue of rows to index (migrations/0004_search_index);
-- never run there, as search_index_state answers indexed = 0. It selects nothing.
SELECT event_uuid FROM armada_events WHERE 1 = 0 AND :last_rowid IS NOT NULL;
