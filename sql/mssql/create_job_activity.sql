-- Lost jobs (README "Lost jobs"): the service's own tables. On SQL Server nothing keeps
-- armada_job_activity in step yet (the SQLite triggers are not written in T-SQL), so the
-- service does not sweep there (armada/lost_jobs.py); the tables exist for the queries.
IF OBJECT_ID(N'dbo.armada_job_activity', N'U') IS NULL
    CREATE TABLE dbo.armada_job_activity (
        job_uuid NVARCHAR(255) NOT NULL PRIMARY KEY,
        last_report DATETIME2(3) NOT NULL
    );
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_job_activity_last_report'
                   AND object_id = OBJECT_ID(N'dbo.armada_job_activity'))
    CREATE INDEX ix_armada_job_activity_last_report ON dbo.armada_job_activity (last_report);
IF OBJECT_ID(N'dbo.armada_leases', N'U') IS NULL
    CREATE TABLE dbo.armada_leases (
        name NVARCHAR(255) NOT NULL PRIMARY KEY,
        holder NVARCHAR(255) NOT NULL,
        expires DATETIME2(3) NOT NULL
    );
IF NOT EXISTS (SELECT 1 FROM dbo.armada_leases WHERE name = N'lost_jobs')
    INSERT INTO dbo.armada_leases (name, holder, expires)
    VALUES (N'lost_jobs', N'', '1970-01-01T00:00:00');
