SELECT run_uuid, run_datetime
FROM armada_runs
ORDER BY run_datetime DESC, run_uuid DESC
LIMIT :limit OFFSET :offset;
