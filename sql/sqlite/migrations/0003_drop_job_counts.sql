-- Earlier versions kept each run's job counts in a table of the service's own, by triggers
-- on armada_jobs; runs are now counted from their jobs when read (list_runs). Dropped so that
-- job writes stop paying for the triggers: that table only held the service's copy of the
-- counts, never Armada data.
DROP TRIGGER IF EXISTS armada_job_counts_insert;
DROP TRIGGER IF EXISTS armada_job_counts_delete;
DROP TRIGGER IF EXISTS armada_job_counts_update;
DROP TABLE IF EXISTS armada_job_counts;
