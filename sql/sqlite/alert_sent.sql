-- The receiver took the delivery (a 2xx).
UPDATE armada_alert_outbox
SET status = 'sent', sent_datetime = strftime('%Y-%m-%d %H:%M:%f', 'now'), claim = NULL, lease_datetime = NULL
WHERE delivery_id = :delivery_id AND status = 'pending';
