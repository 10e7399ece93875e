-- An attempt of this claim failed: tried again in :retry_seconds, or failed for good when
-- that would be later than :give_up_seconds after the change.
UPDATE armada_alert_outbox
SET last_error = :error, claim = NULL, lease_datetime = NULL,
    next_attempt_datetime = strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || :retry_seconds || ' seconds'),
    status = CASE
        WHEN strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || :retry_seconds || ' seconds')
            > strftime('%Y-%m-%d %H:%M:%f', created_datetime, '+' || :give_up_seconds || ' seconds')
        THEN 'failed' ELSE 'pending' END
WHERE delivery_id = :delivery_id AND claim = :claim;
