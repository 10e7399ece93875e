-- The run summary, of the runs of the query's CTE chosen_runs (run_uuid, run_datetime): the
-- counts of their jobs by status, each one range of ix_armada_jobs_run_status read from the
-- index alone; run_status derived from the counts as the README says; first report: the run's
-- datetime; last report: the newest of it, its jobs' and their events'.
counted AS MATERIALIZED (
    SELECT run.run_uuid, run.run_datetime,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run.run_uuid) AS jobs_total,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run.run_uuid AND job.job_status = 'Running') AS jobs_running,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run.run_uuid AND job.job_status = 'Success') AS jobs_success,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run.run_uuid AND job.job_status = 'Failed') AS jobs_failed,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run.run_uuid AND job.job_status = 'Pending') AS jobs_pending,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run.run_uuid AND job.job_status = 'Cancelled') AS jobs_cancelled,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = run.run_uuid AND job.job_status = 'Lost') AS jobs_lost,
    (SELECT MAX(job.job_datetime) FROM armada_jobs AS job
     WHERE job.run_uuid = run.run_uuid) AS last_job_datetime,
    (SELECT MAX((SELECT MAX(event.event_datetime) FROM armada_events AS event
                 WHERE event.job_uuid = job.job_uuid))
     FROM armada_jobs AS job WHERE job.run_uuid = run.run_uuid) AS last_event_datetime
    FROM chosen_runs AS run
),
run_summary AS (
    SELECT run_uuid, run_datetime, jobs_total, jobs_running, jobs_success, jobs_failed,
        jobs_pending, jobs_cancelled, jobs_lost,
        CASE WHEN jobs_running + jobs_pending > 0 THEN 'Running'
             WHEN jobs_failed + jobs_lost > 0 THEN 'Failed'
             WHEN jobs_cancelled > 0 THEN 'Cancelled'
             WHEN jobs_total > 0 THEN 'Success'
             ELSE 'Pending' END AS run_status,
        run_datetime AS first_report_datetime,
        CASE WHEN last_event_datetime > COALESCE(last_job_datetime, run_datetime)
                  AND last_event_datetime > run_datetime THEN last_event_datetime
             WHEN last_job_datetime > run_datetime THEN last_job_datetime
             ELSE run_datetime END AS last_report_datetime
    FROM counted
)
