-- Alerts (docs/alerts.md): the outbox, the service's own table. A row is written in the
-- transaction of the change that caused it, then claimed (claim, lease_datetime) and sent by
-- one instance. group_key gathers the rows of one rule, target and run (its rate limit);
-- attempts counts the attempts begun, so a row being sent takes no more occurrences.
-- open_key is the group's while no attempt has begun (then the row's own id): one open
-- delivery per group, which the database keeps when two instances add one together.
IF OBJECT_ID(N'dbo.armada_alert_outbox', N'U') IS NULL
    CREATE TABLE dbo.armada_alert_outbox (
        delivery_id NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL PRIMARY KEY,
        group_key NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
        open_key NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL
            CONSTRAINT uq_armada_alert_outbox_open UNIQUE,
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
    );
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_alert_outbox')
                   AND name IN (N'ix_alert_outbox_group',
                                N'ix_alert_outbox_grouparmada_aleec0c1b2938bde78fdcce715756a9d57d'))
    CREATE INDEX ix_alert_outbox_group ON dbo.armada_alert_outbox (group_key, created_datetime);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_alert_outbox')
                   AND name IN (N'ix_alert_outbox_due',
                                N'ix_alert_outbox_duearmada_alert42d75c667d307f85b205db085223d915'))
    CREATE INDEX ix_alert_outbox_due ON dbo.armada_alert_outbox (status, next_attempt_datetime);
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_alert_outbox')
                   AND name IN (N'ix_alert_outbox_created',
                                N'ix_alert_outbox_createdarmada_a73fb38806c94038654edda95219bd71e'))
    CREATE INDEX ix_alert_outbox_created ON dbo.armada_alert_outbox (created_datetime);
