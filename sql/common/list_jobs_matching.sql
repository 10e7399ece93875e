-- Jobs whose job_uuid or agent holds :job_like (a LIKE pattern), with the other filters of
-- list_jobs (run_uuid optional): GET /api/jobs/?q=.
SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
FROM armada_jobs
WHERE job_datetime >= :since AND job_datetime < :until
    AND (:run_uuid IS NULL OR run_uuid = :run_uuid)
    AND (:job_status IS NULL OR job_status = :job_status)
    AND (:job_associated_agent IS NULL OR job_associated_agent = :job_associated_agent)
    AND (job_uuid LIKE :job_like ESCAPE '\' OR job_associated_agent LIKE :job_like ESCAPE '\')
ORDER BY job_datetime DESC, job_uuid DESC
LIMIT :limit OFFSET :offset;
