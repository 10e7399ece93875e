INSERT INTO armada_runs (run_uuid, run_datetime)
SELECT :run_uuid, :run_datetime
WHERE NOT EXISTS (SELECT 1 FROM armada_runs WHERE run_uuid = :run_uuid);
