-- Before a job leaves Running or Pending (a status update, Lost): the status its run's other
-- jobs give the run, as README "Run state" derives it (Success when they are all done well, or
-- there are none). CASE stops at the first that holds: a seek or two of
-- ix_armada_jobs_run_status in the usual case, where another job is still live.
SELECT CASE
    WHEN EXISTS (SELECT 1 FROM armada_jobs WHERE run_uuid = :run_uuid
                 AND job_status IN ('Running', 'Pending') AND job_uuid <> :job_uuid)
        THEN 'Running'
    WHEN EXISTS (SELECT 1 FROM armada_jobs WHERE run_uuid = :run_uuid
                 AND job_status IN ('Failed', 'Lost') AND job_uuid <> :job_uuid)
        THEN 'Failed'
    WHEN EXISTS (SELECT 1 FROM armada_jobs WHERE run_uuid = :run_uuid
                 AND job_status = 'Cancelled' AND job_uuid <> :job_uuid)
        THEN 'Cancelled'
    ELSE 'Success' END AS run_status;
