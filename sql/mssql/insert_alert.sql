-- A new delivery, due :delay_seconds from now (a digest's period, or at once).
INSERT INTO armada_alert_outbox (delivery_id, group_key, rule_name, target, event, run_uuid,
    job_uuid, payload, occurrences, status, attempts, created_datetime, next_attempt_datetime)
VALUES (:delivery_id, :group_key, :rule_name, :target, :event, :run_uuid, :job_uuid, :payload,
    1, N'pending', 0, SYSUTCDATETIME(),
    DATEADD(millisecond, CAST(:delay_seconds * 1000 AS INT), SYSUTCDATETIME()));
