SELECT COUNT(*) AS total
FROM armada_jobs
WHERE run_uuid = :run_uuid
    AND job_datetime >= :since AND job_datetime < :until
    AND (:job_status IS NULL OR job_status = :job_status)
    AND (:job_associated_agent IS NULL OR job_associated_agent = :job_associated_agent);
