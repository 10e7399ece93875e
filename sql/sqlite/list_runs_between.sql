-- list_runs within [since, until); the operation passes both bounds, so the range can seek.
WITH run_page AS (
    SELECT run_uuid, run_datetime
    FROM armada_runs
    WHERE run_datetime >= :since AND run_datetime < :until
    ORDER BY run_datetime DESC, run_uuid DESC
    LIMIT :limit OFFSET :offset
)
SELECT run_page.run_uuid, run_page.run_datetime,
    COALESCE(summary.jobs_total, 0) AS jobs_total,
    COALESCE(summary.jobs_running, 0) AS jobs_running,
    COALESCE(summary.jobs_success, 0) AS jobs_success,
    COALESCE(summary.jobs_failed, 0) AS jobs_failed,
    COALESCE(summary.jobs_pending, 0) AS jobs_pending,
    COALESCE(summary.jobs_cancelled, 0) AS jobs_cancelled
FROM run_page
LEFT JOIN (
    SELECT run_uuid,
        SUM(jobs) AS jobs_total,
        SUM(CASE WHEN job_status = 'Running' THEN jobs ELSE 0 END) AS jobs_running,
        SUM(CASE WHEN job_status = 'Success' THEN jobs ELSE 0 END) AS jobs_success,
        SUM(CASE WHEN job_status = 'Failed' THEN jobs ELSE 0 END) AS jobs_failed,
        SUM(CASE WHEN job_status = 'Pending' THEN jobs ELSE 0 END) AS jobs_pending,
        SUM(CASE WHEN job_status = 'Cancelled' THEN jobs ELSE 0 END) AS jobs_cancelled
    FROM armada_job_counts
    WHERE run_uuid IN (SELECT run_uuid FROM run_page)
    GROUP BY run_uuid
) AS summary ON summary.run_uuid = run_page.run_uuid
ORDER BY run_page.run_datetime DESC, run_page.run_uuid DESC;
