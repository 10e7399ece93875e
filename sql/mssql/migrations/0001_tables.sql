-- Armada's three tables, as the first version made them. A database made by another Armada
-- program has them already (VARCHAR(255)/DATETIME, keyless): they are left exactly as they are.
-- The schema's version (armada/store/migrations.py): one row, made with the first migration.
IF OBJECT_ID(N'dbo.armada_schema_version', N'U') IS NULL
    CREATE TABLE dbo.armada_schema_version (version INT NOT NULL);
INSERT INTO dbo.armada_schema_version (version)
SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM dbo.armada_schema_version);
-- DDL and table_columns name dbo, where the tables are made; the queries name the tables
-- unqualified, written once for both dialects (sql/common/). SQL Server looks an unqualified
-- name up in the login's default schema, then in dbo: the same tables for a login whose
-- default schema is dbo, the default for a database user.
-- Ids are compared byte for byte, as on SQLite: a binary collation on every id column (the
-- database's default collation usually ignores case, which would make `JOB-1` equal `job-1`).
IF OBJECT_ID(N'dbo.armada_runs', N'U') IS NULL
    CREATE TABLE dbo.armada_runs (
        run_uuid NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL
            CONSTRAINT pk_armada_runs PRIMARY KEY,
        run_datetime DATETIME2(3) NOT NULL
    );
IF OBJECT_ID(N'dbo.armada_jobs', N'U') IS NULL
    CREATE TABLE dbo.armada_jobs (
        job_uuid NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL
            CONSTRAINT pk_armada_jobs PRIMARY KEY,
        run_uuid NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
        job_datetime DATETIME2(3) NOT NULL,
        job_associated_agent NVARCHAR(255) NOT NULL,
        job_status NVARCHAR(255) NOT NULL
    );
IF OBJECT_ID(N'dbo.armada_events', N'U') IS NULL
    CREATE TABLE dbo.armada_events (
        event_uuid NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL
            CONSTRAINT pk_armada_events PRIMARY KEY,
        event_content NVARCHAR(MAX) NOT NULL,
        job_uuid NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
        event_datetime DATETIME2(3) NOT NULL,
        event_status NVARCHAR(255) NOT NULL
    );
