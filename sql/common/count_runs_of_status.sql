-- How many runs list_runs_of_status pages through.
WITH chosen_runs AS (
    SELECT run_uuid, run_datetime
    FROM armada_runs
    WHERE run_datetime >= :since AND run_datetime < :until
),
{run_summary}
SELECT COUNT(*) AS total
FROM run_summary
WHERE run_status = :run_status;
