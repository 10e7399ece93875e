-- Alerts (docs/alerts.md): the outbox, the service's own table. A row is written in the
-- transaction of the change that caused it, then claimed (claim, lease_datetime) and sent by
-- one instance. group_key gathers the rows of one rule, target and run (its rate limit);
-- attempts counts the attempts begun, so a row being sent takes no more occurrences.
-- The table and its indexes are made together, when the table is missing.
IF OBJECT_ID(N'dbo.armada_alert_outbox', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.armada_alert_outbox (
        delivery_id NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL PRIMARY KEY,
        group_key NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
        rule_name NVARCHAR(100) NOT NULL,
        target NVARCHAR(100) NOT NULL,
        event NVARCHAR(32) NOT NULL,
        run_uuid NVARCHAR(255) NOT NULL,
        job_uuid NVARCHAR(255) NULL,
        payload NVARCHAR(MAX) NOT NULL,
        occurrences INT NOT NULL,
        status NVARCHAR(16) NOT NULL,
        attempts INT NOT NULL,
        created_datetime DATETIME2(3) NOT NULL,
        next_attempt_datetime DATETIME2(3) NOT NULL,
        claim NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NULL,
        lease_datetime DATETIME2(3) NULL,
        last_attempt_datetime DATETIME2(3) NULL,
        last_error NVARCHAR(1000) NULL,
        sent_datetime DATETIME2(3) NULL
    )
    CREATE INDEX ix_alert_outbox_group ON dbo.armada_alert_outbox (group_key, created_datetime)
    CREATE INDEX ix_alert_outbox_due ON dbo.armada_alert_outbox (status, next_attempt_datetime)
    CREATE INDEX ix_alert_outbox_created ON dbo.armada_alert_outbox (created_datetime)
END;
