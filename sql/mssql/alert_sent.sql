-- The receiver took the delivery (a 2xx).
UPDATE armada_alert_outbox
SET status = N'sent', sent_datetime = SYSUTCDATETIME(), claim = NULL, lease_datetime = NULL
WHERE delivery_id = :delivery_id AND status = N'pending';
