SELECT COUNT(*) AS total FROM armada_jobs;
