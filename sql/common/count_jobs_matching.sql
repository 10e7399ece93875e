SELECT COUNT(*) AS total
FROM armada_jobs
WHERE job_datetime >= :since AND job_datetime < :until
    AND (:run_uuid IS NULL OR run_uuid = :run_uuid)
    AND (:job_status IS NULL OR job_status = :job_status)
    AND (:job_associated_agent IS NULL OR job_associated_agent = :job_associated_agent)
    AND (job_uuid LIKE :job_like ESCAPE '\' OR job_associated_agent LIKE :job_like ESCAPE '\');
