SELECT run_uuid, run_datetime
FROM dbo.armada_runs
ORDER BY run_datetime DESC, run_uuid DESC
OFFSET :offset ROWS FETCH NEXT :limit ROWS ONLY;
