-- One more occurrence in a delivery that no attempt has begun to send.
UPDATE armada_alert_outbox
SET occurrences = occurrences + 1
WHERE delivery_id = :delivery_id AND attempts = 0;
