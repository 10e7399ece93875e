-- Up to :limit deliveries that are due and no instance holds, taken by this claim for
-- :lease_seconds (one attempt each, counted now): the database gives each to one instance
-- (the update reads each row under its update lock and checks it again there).
WITH due AS (
    SELECT TOP (:limit) claim, attempts, lease_datetime, last_attempt_datetime
    FROM armada_alert_outbox
    WHERE status = N'pending' AND next_attempt_datetime <= SYSUTCDATETIME()
        AND (lease_datetime IS NULL OR lease_datetime < SYSUTCDATETIME())
    ORDER BY next_attempt_datetime
)
UPDATE due
SET claim = :claim, attempts = attempts + 1,
    lease_datetime = DATEADD(millisecond, CAST(:lease_seconds * 1000 AS INT), SYSUTCDATETIME()),
    last_attempt_datetime = SYSUTCDATETIME();
SELECT delivery_id, rule_name, target, event, run_uuid, job_uuid, payload, occurrences,
    attempts, created_datetime
FROM armada_alert_outbox
WHERE status = N'pending' AND claim = :claim;
