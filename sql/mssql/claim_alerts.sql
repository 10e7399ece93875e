-- Up to :limit deliveries that are due and no instance holds, taken by this claim for
-- :lease_seconds (one attempt each, counted now): the database gives each to one instance
-- (a row another claim took meanwhile no longer passes the outer check, made under the
-- update's lock).
UPDATE armada_alert_outbox
SET claim = :claim, attempts = attempts + 1, open_key = delivery_id,
    lease_datetime = DATEADD(millisecond, CAST(:lease_seconds * 1000 AS INT), SYSUTCDATETIME()),
    last_attempt_datetime = SYSUTCDATETIME()
WHERE delivery_id IN (
        SELECT TOP (:limit) delivery_id FROM armada_alert_outbox
        WHERE status = N'pending' AND next_attempt_datetime <= SYSUTCDATETIME()
            AND (lease_datetime IS NULL OR lease_datetime < SYSUTCDATETIME())
        ORDER BY next_attempt_datetime
    )
    AND status = N'pending' AND (lease_datetime IS NULL OR lease_datetime < SYSUTCDATETIME());
SELECT delivery_id, rule_name, target, event, run_uuid, job_uuid, payload, occurrences,
    attempts, created_datetime
FROM armada_alert_outbox
WHERE status = N'pending' AND claim = :claim;
