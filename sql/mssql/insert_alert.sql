-- A new delivery, due :delay_seconds from now (a digest's period, or at once), open to more
-- occurrences of its group (a second open one is refused: the write runs again and joins it).
INSERT INTO armada_alert_outbox (delivery_id, group_key, open_key, rule_name, target, event,
    run_uuid, job_uuid, payload, occurrences, status, attempts, created_datetime,
    next_attempt_datetime)
VALUES (:delivery_id, :group_key, :group_key, :rule_name, :target, :event, :run_uuid,
    :job_uuid, :payload, 1, N'pending', 0, SYSUTCDATETIME(),
    DATEADD(millisecond, CAST(:delay_seconds * 1000 AS INT), SYSUTCDATETIME()));
