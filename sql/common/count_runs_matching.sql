SELECT COUNT(*) AS total
FROM armada_runs
WHERE run_datetime >= :since AND run_datetime < :until
    AND run_uuid LIKE :run_like ESCAPE '\';
