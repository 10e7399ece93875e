-- A run deleted by another process, for the service to announce (create_run_deletions.sql).
INSERT INTO armada_run_deletions (run_uuid) VALUES (:run_uuid);
