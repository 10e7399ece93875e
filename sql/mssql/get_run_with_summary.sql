-- One run with the counts of its jobs, counted as list_runs counts them.
WITH the_run AS (
    SELECT TOP (1) run_uuid, run_datetime
    FROM armada_runs
    WHERE run_uuid = :run_uuid
)
SELECT the_run.run_uuid, the_run.run_datetime,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = the_run.run_uuid) AS jobs_total,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = the_run.run_uuid AND job.job_status = 'Running') AS jobs_running,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = the_run.run_uuid AND job.job_status = 'Success') AS jobs_success,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = the_run.run_uuid AND job.job_status = 'Failed') AS jobs_failed,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = the_run.run_uuid AND job.job_status = 'Pending') AS jobs_pending,
    (SELECT COUNT(*) FROM armada_jobs AS job
     WHERE job.run_uuid = the_run.run_uuid AND job.job_status = 'Cancelled') AS jobs_cancelled
FROM the_run;
