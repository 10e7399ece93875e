-- A delivery's status: pending, sent or failed.
SELECT status FROM armada_alert_outbox WHERE delivery_id = :delivery_id;
