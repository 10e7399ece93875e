-- One run with its summary (fragments/run_summary.sql), as list_runs answers it.
WITH chosen_runs AS (
    SELECT run_uuid, run_datetime
    FROM armada_runs
    WHERE run_uuid = :run_uuid
    LIMIT 1
),
{run_summary}
SELECT * FROM run_summary;
