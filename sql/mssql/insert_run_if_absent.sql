-- UPDLOCK, HOLDLOCK: a concurrent insert of the same run_uuid waits instead of adding a second row.
INSERT INTO armada_runs (run_uuid, run_datetime)
SELECT :run_uuid, :run_datetime
WHERE NOT EXISTS (
    SELECT 1 FROM armada_runs WITH (UPDLOCK, HOLDLOCK) WHERE run_uuid = :run_uuid
);
