-- A page of runs, then the summary (fragments/run_summary.sql) of only those runs.
WITH chosen_runs AS (
    SELECT run_uuid, run_datetime
    FROM armada_runs
    ORDER BY run_datetime DESC, run_uuid DESC
    LIMIT :limit OFFSET :offset
),
{run_summary}
SELECT * FROM run_summary
ORDER BY run_datetime DESC, run_uuid DESC;
