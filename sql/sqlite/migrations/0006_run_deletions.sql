-- Runs deleted by another process (`armada purge`), written in the deleting transaction, for
-- the service to announce (`delete_run`): one replica takes them (reads and deletes them in
-- one write transaction) and broadcasts them. The service's own deletions never come here.
CREATE TABLE IF NOT EXISTS armada_run_deletions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_uuid TEXT NOT NULL
);
