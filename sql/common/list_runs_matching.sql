-- list_runs_between whose run_uuid holds :run_like (a LIKE pattern): GET /api/runs/?q=.
WITH chosen_runs AS (
    SELECT run_uuid, run_datetime
    FROM armada_runs
    WHERE run_datetime >= :since AND run_datetime < :until
        AND run_uuid LIKE :run_like ESCAPE '\'
    ORDER BY run_datetime DESC, run_uuid DESC
    LIMIT :limit OFFSET :offset
),
{run_summary}
SELECT * FROM run_summary
ORDER BY run_datetime DESC, run_uuid DESC;
