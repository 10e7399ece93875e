SELECT COUNT(*) AS total FROM armada_jobs WHERE run_uuid = :run_uuid;
