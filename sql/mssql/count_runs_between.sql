SELECT COUNT(*) AS total
FROM dbo.armada_runs
WHERE run_datetime >= :since AND run_datetime < :until;
