-- The search index of event_content (GET /api/events/?q=): FTS5 with the trigram tokenizer
-- (SQLite 3.34 or newer), so that any piece of 3 characters or more of an id or a stack trace
-- matches. External content: the text is not stored twice; triggers keep it in step.
-- A new event is not indexed by its own write: its trigger queues its rowid in
-- armada_search_queue, and index_queued_events indexes the queue in the background, many
-- rows per transaction (an FTS5 insert costs several times less so than one row per commit:
-- README "Performance"). Searches take the queued rows as candidates too, so an event is
-- found from its commit on. A queued row that is deleted leaves the queue; an indexed one
-- leaves the index.
-- armada_search_progress: the rows pending_from <= rowid < pending_to existed before the
-- index did and are not in it yet; build_search_index_chunk fills them in, a chunk per
-- transaction, in the background. The triggers leave those rows to it (and index every other
-- row), so that each row is in the index once. Created with the index, in one transaction.
CREATE TABLE IF NOT EXISTS armada_search_progress (
    name TEXT NOT NULL PRIMARY KEY,
    pending_from INTEGER NOT NULL,
    pending_to INTEGER NOT NULL
);
INSERT OR IGNORE INTO armada_search_progress (name, pending_from, pending_to)
SELECT 'armada_events', COALESCE(MIN(rowid), 0), COALESCE(MAX(rowid), -1) + 1
FROM armada_events
WHERE NOT EXISTS (
    SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'armada_events_search'
);
CREATE VIRTUAL TABLE IF NOT EXISTS armada_events_search USING fts5(
    event_content, content='armada_events', tokenize='trigram'
);
CREATE TABLE IF NOT EXISTS armada_search_queue (
    event_rowid INTEGER NOT NULL PRIMARY KEY
);
-- The triggers of earlier versions indexed each row in its own write.
DROP TRIGGER IF EXISTS armada_events_search_insert;
DROP TRIGGER IF EXISTS armada_events_search_delete;
DROP TRIGGER IF EXISTS armada_events_search_update;
CREATE TRIGGER IF NOT EXISTS armada_search_queue_insert AFTER INSERT ON armada_events
WHEN NOT EXISTS (SELECT 1 FROM armada_search_progress WHERE name = 'armada_events'
                 AND new.rowid >= pending_from AND new.rowid < pending_to)
BEGIN INSERT OR IGNORE INTO armada_search_queue (event_rowid) VALUES (new.rowid); END;
CREATE TRIGGER IF NOT EXISTS armada_search_queue_delete AFTER DELETE ON armada_events
BEGIN
    INSERT INTO armada_events_search (armada_events_search, rowid, event_content)
    SELECT 'delete', old.rowid, old.event_content
    WHERE NOT EXISTS (SELECT 1 FROM armada_search_queue WHERE event_rowid = old.rowid)
        AND NOT EXISTS (SELECT 1 FROM armada_search_progress WHERE name = 'armada_events'
                        AND old.rowid >= pending_from AND old.rowid < pending_to);
    DELETE FROM armada_search_queue WHERE event_rowid = old.rowid;
END;
CREATE TRIGGER IF NOT EXISTS armada_search_queue_update AFTER UPDATE OF event_content ON armada_events
WHEN NOT EXISTS (SELECT 1 FROM armada_search_queue WHERE event_rowid = old.rowid)
    AND NOT EXISTS (SELECT 1 FROM armada_search_progress WHERE name = 'armada_events'
                    AND old.rowid >= pending_from AND old.rowid < pending_to)
BEGIN
    INSERT INTO armada_events_search (armada_events_search, rowid, event_content)
    VALUES ('delete', old.rowid, old.event_content);
    INSERT INTO armada_events_search (rowid, event_content) VALUES (new.rowid, new.event_content);
END;
