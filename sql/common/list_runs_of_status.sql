-- list_runs_between of the runs whose run_status is :run_status. The status is derived from
-- the counts, so every run within [since, until) is counted (index reads only) before the
-- page is cut: a narrow since/until keeps it cheap.
WITH chosen_runs AS (
    SELECT run_uuid, run_datetime
    FROM armada_runs
    WHERE run_datetime >= :since AND run_datetime < :until
),
{run_summary}
SELECT * FROM run_summary
WHERE run_status = :run_status
ORDER BY run_datetime DESC, run_uuid DESC
LIMIT :limit OFFSET :offset;
