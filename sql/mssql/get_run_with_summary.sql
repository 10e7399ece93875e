-- One run with its summary (fragments/run_summary.sql), as list_runs answers it.
WITH chosen_runs AS (
    SELECT TOP (1) run_uuid, run_datetime
    FROM armada_runs
    WHERE run_uuid = :run_uuid
),
{run_summary}
SELECT * FROM run_summary;
