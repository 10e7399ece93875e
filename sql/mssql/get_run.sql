SELECT TOP (1) run_uuid, run_datetime
FROM armada_runs
WHERE run_uuid = :run_uuid;
