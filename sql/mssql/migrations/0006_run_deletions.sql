-- Runs deleted by another process (`armada purge`), written in the deleting transaction, for
-- the service to announce (`delete_run`): one replica takes them (reads and deletes them in
-- one write transaction) and broadcasts them. The service's own deletions never come here.
IF OBJECT_ID(N'dbo.armada_run_deletions', N'U') IS NULL
    CREATE TABLE dbo.armada_run_deletions (
        id BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_armada_run_deletions PRIMARY KEY,
        run_uuid NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL
    );
