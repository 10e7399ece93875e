-- list_runs_between whose run_uuid holds :run_like (a LIKE pattern): GET /api/runs/?q=.
WITH run_page AS (
    SELECT run_uuid, run_datetime
    FROM armada_runs
    WHERE run_datetime >= :since AND run_datetime < :until
        AND run_uuid LIKE :run_like ESCAPE '\'
    ORDER BY run_datetime DESC, run_uuid DESC
    LIMIT :limit OFFSET :offset
)
SELECT run_page.run_uuid, run_page.run_datetime,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run_page.run_uuid) AS jobs_total,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run_page.run_uuid AND job.job_status = 'Running') AS jobs_running,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run_page.run_uuid AND job.job_status = 'Success') AS jobs_success,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run_page.run_uuid AND job.job_status = 'Failed') AS jobs_failed,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run_page.run_uuid AND job.job_status = 'Pending') AS jobs_pending,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run_page.run_uuid AND job.job_status = 'Cancelled') AS jobs_cancelled
FROM run_page
ORDER BY run_page.run_datetime DESC, run_page.run_uuid DESC;
