-- Before a job leaves Running or Pending (a status update, Lost): whether another job of its
-- run is still Running or Pending, else whether another is Failed or Lost, or Cancelled (the
-- run's status once none is live: README "Run state"). Seeks of ix_armada_jobs_run_status.
SELECT
    EXISTS (SELECT 1 FROM armada_jobs WHERE run_uuid = :run_uuid
            AND job_status IN ('Running', 'Pending') AND job_uuid <> :job_uuid) AS live,
    EXISTS (SELECT 1 FROM armada_jobs WHERE run_uuid = :run_uuid
            AND job_status IN ('Failed', 'Lost') AND job_uuid <> :job_uuid) AS failed,
    EXISTS (SELECT 1 FROM armada_jobs WHERE run_uuid = :run_uuid
            AND job_status = 'Cancelled' AND job_uuid <> :job_uuid) AS cancelled;
