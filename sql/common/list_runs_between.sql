-- list_runs within [since, until); the operation passes both bounds, so the range can seek.
WITH chosen_runs AS (
    SELECT run_uuid, run_datetime
    FROM armada_runs
    WHERE run_datetime >= :since AND run_datetime < :until
    ORDER BY run_datetime DESC, run_uuid DESC
    LIMIT :limit OFFSET :offset
),
{run_summary}
SELECT * FROM run_summary
ORDER BY run_datetime DESC, run_uuid DESC;
