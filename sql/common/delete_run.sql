DELETE FROM armada_runs WHERE run_uuid = :run_uuid;
