-- A run deleted by another process, for the service to announce
-- (migrations/0006_run_deletions.sql).
INSERT INTO armada_run_deletions (run_uuid) VALUES (:run_uuid);
