-- Up to :limit deliveries sent or failed more than :keep_seconds ago.
DELETE FROM armada_alert_outbox
WHERE delivery_id IN (
    SELECT delivery_id FROM armada_alert_outbox
    WHERE status <> 'pending'
        AND created_datetime < strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || :keep_seconds || ' seconds')
    LIMIT :limit
);
