-- Retention: runs registered before the cutoff, oldest first, one batch at a time.
SELECT run_uuid, run_datetime
FROM armada_runs
WHERE run_datetime < :cutoff
ORDER BY run_datetime, run_uuid
OFFSET :offset ROWS FETCH NEXT :limit ROWS ONLY;
