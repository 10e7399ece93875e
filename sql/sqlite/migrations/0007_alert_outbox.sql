-- Alerts (docs/alerts.md): the outbox, the service's own table. A row is written in the
-- transaction of the change that caused it, then claimed (claim, lease_datetime) and sent by
-- one instance. group_key gathers the rows of one rule, target and run (its rate limit);
-- attempts counts the attempts begun, so a row being sent takes no more occurrences.
-- open_key is the group's while no attempt has begun (then the row's own id): one open
-- delivery per group, which the database keeps when two instances add one together.
CREATE TABLE IF NOT EXISTS armada_alert_outbox (
    delivery_id TEXT NOT NULL PRIMARY KEY,
    group_key TEXT NOT NULL,
    open_key TEXT NOT NULL UNIQUE,
    rule_name TEXT NOT NULL,
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    run_uuid TEXT NOT NULL,
    job_uuid TEXT,
    payload TEXT NOT NULL,
    occurrences INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_datetime DATETIME NOT NULL,
    next_attempt_datetime DATETIME NOT NULL,
    claim TEXT,
    lease_datetime DATETIME,
    last_attempt_datetime DATETIME,
    last_error TEXT,
    sent_datetime DATETIME
);
CREATE INDEX IF NOT EXISTS ix_alert_outbox_group
    ON armada_alert_outbox (group_key, created_datetime);
CREATE INDEX IF NOT EXISTS ix_alert_outbox_due
    ON armada_alert_outbox (status, next_attempt_datetime);
CREATE INDEX IF NOT EXISTS ix_alert_outbox_created
    ON armada_alert_outbox (created_datetime);
