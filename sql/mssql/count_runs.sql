SELECT COUNT(*) AS total FROM dbo.armada_runs;
