-- Up to :limit deliveries sent or failed more than :keep_seconds ago.
DELETE TOP (:limit) FROM armada_alert_outbox
WHERE status <> N'pending'
    AND created_datetime < DATEADD(second, -CAST(:keep_seconds AS INT), SYSUTCDATETIME());
