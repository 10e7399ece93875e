-- The newest deliveries (of one status, or all), for GET /api/alerts/deliveries.
SELECT delivery_id, rule_name, target, event, run_uuid, job_uuid, occurrences, status,
    attempts, created_datetime, next_attempt_datetime, last_attempt_datetime, sent_datetime,
    last_error
FROM armada_alert_outbox
WHERE :status IS NULL OR status = :status
ORDER BY created_datetime DESC, delivery_id DESC
LIMIT :limit;
