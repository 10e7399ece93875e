SELECT COUNT(*) AS total FROM dbo.armada_jobs WHERE run_uuid = :run_uuid;
