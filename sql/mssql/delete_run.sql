DELETE FROM dbo.armada_runs WHERE run_uuid = :run_uuid;
