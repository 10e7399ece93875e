-- Up to :limit deliveries that are due and no instance holds, taken by this claim for
-- :lease_seconds (one attempt each, counted now): the database gives each to one instance.
UPDATE armada_alert_outbox
SET claim = :claim, attempts = attempts + 1, open_key = delivery_id,
    lease_datetime = strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || :lease_seconds || ' seconds'),
    last_attempt_datetime = strftime('%Y-%m-%d %H:%M:%f', 'now')
WHERE delivery_id IN (
    SELECT delivery_id FROM armada_alert_outbox
    WHERE status = 'pending' AND next_attempt_datetime <= strftime('%Y-%m-%d %H:%M:%f', 'now')
        AND (lease_datetime IS NULL OR lease_datetime < strftime('%Y-%m-%d %H:%M:%f', 'now'))
    ORDER BY next_attempt_datetime
    LIMIT :limit
);
SELECT delivery_id, rule_name, target, event, run_uuid, job_uuid, payload, occurrences,
    attempts, created_datetime
FROM armada_alert_outbox
WHERE status = 'pending' AND claim = :claim;
