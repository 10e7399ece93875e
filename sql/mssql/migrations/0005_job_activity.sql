-- Lost jobs (README "Lost jobs"): the service's own tables, beside Armada's, never theirs.
-- armada_job_activity holds a row per job that is Running or Pending, with the time (the
-- database's clock, SYSUTCDATETIME() as stale_jobs and stale_job read it) of its last report:
-- its create, a status, an event. Triggers on Armada's tables keep it in step, as the SQLite
-- ones do (sql/sqlite/migrations/0005_job_activity.sql), so every writer counts; a job that ends leaves
-- it. A job found Lost that reports an event is Running again (operations.create_event). An
-- event moves its job's last_report once per 0.1 s at most (a job may so be found Lost 0.1 s early).
-- job_uuid is binary, as the ids of fresh tables are; the triggers name that collation on
-- the side of inserted/deleted, so that a legacy table's own collation is no conflict.
IF OBJECT_ID(N'dbo.armada_job_activity', N'U') IS NULL
    CREATE TABLE dbo.armada_job_activity (
        job_uuid NVARCHAR(255) COLLATE Latin1_General_100_BIN2 NOT NULL PRIMARY KEY,
        last_report DATETIME2(3) NOT NULL
    );
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_job_activity')
                   AND name IN (N'ix_armada_job_activity_last_report',
                                N'ix_armada_job_activity_last_rep5b3fa63abb7136c84183d1243866c565'))
    CREATE INDEX ix_armada_job_activity_last_report ON dbo.armada_job_activity (last_report);
-- One row per periodic task that only one replica may run at a time (the sweep).
IF OBJECT_ID(N'dbo.armada_leases', N'U') IS NULL
    CREATE TABLE dbo.armada_leases (
        name NVARCHAR(255) NOT NULL PRIMARY KEY,
        holder NVARCHAR(255) NOT NULL,
        expires DATETIME2(3) NOT NULL
    );
IF NOT EXISTS (SELECT 1 FROM dbo.armada_leases WHERE name = N'lost_jobs')
    INSERT INTO dbo.armada_leases (name, holder, expires)
    VALUES (N'lost_jobs', N'', '1970-01-01T00:00:00');
-- The triggers. CREATE TRIGGER must be alone in its batch: EXEC runs it as one, only when the
-- trigger is missing (one left by an earlier start is kept: Armada's tables are not changed at
-- every start). Each is set-based: one statement may write many rows, and a keyless (legacy)
-- table may hold a job_uuid twice. SET NOCOUNT ON: the row count the service reads after its
-- INSERT or UPDATE is that statement's, not one of the trigger's.
--
-- A job created, or given a status: Running or Pending, its row with now; anything else, no
-- row. UPDATE(job_status) is true for every INSERT, and for an UPDATE that sets the status
-- (to the same one too, as on SQLite): another column changed is no report.
IF OBJECT_ID(N'dbo.armada_job_activity_job_status', N'TR') IS NULL
    EXEC (N'CREATE TRIGGER dbo.armada_job_activity_job_status ON dbo.armada_jobs AFTER INSERT, UPDATE AS
IF UPDATE(job_status)
BEGIN
    SET NOCOUNT ON
    DECLARE @now DATETIME2(3) = SYSUTCDATETIME()
    DELETE activity
    FROM dbo.armada_job_activity AS activity
    WHERE activity.job_uuid IN (SELECT old_job.job_uuid COLLATE Latin1_General_100_BIN2
                                FROM deleted AS old_job)
        AND activity.job_uuid NOT IN (SELECT new_job.job_uuid COLLATE Latin1_General_100_BIN2
                                      FROM inserted AS new_job
                                      WHERE new_job.job_status IN (''Running'', ''Pending'')
                                          AND new_job.job_uuid IS NOT NULL)
    UPDATE activity SET last_report = @now
    FROM dbo.armada_job_activity AS activity
    WHERE activity.job_uuid IN (SELECT new_job.job_uuid COLLATE Latin1_General_100_BIN2
                                FROM inserted AS new_job
                                WHERE new_job.job_status IN (''Running'', ''Pending''))
    INSERT INTO dbo.armada_job_activity (job_uuid, last_report)
    SELECT DISTINCT new_job.job_uuid COLLATE Latin1_General_100_BIN2, @now
    FROM inserted AS new_job
    WHERE new_job.job_status IN (''Running'', ''Pending'') AND new_job.job_uuid IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM dbo.armada_job_activity AS activity WITH (UPDLOCK, HOLDLOCK)
                        WHERE activity.job_uuid = new_job.job_uuid COLLATE Latin1_General_100_BIN2)
END');
IF OBJECT_ID(N'dbo.armada_job_activity_job_delete', N'TR') IS NULL
    EXEC (N'CREATE TRIGGER dbo.armada_job_activity_job_delete ON dbo.armada_jobs AFTER DELETE AS
BEGIN
    SET NOCOUNT ON
    DELETE activity
    FROM dbo.armada_job_activity AS activity
    WHERE activity.job_uuid IN (SELECT old_job.job_uuid COLLATE Latin1_General_100_BIN2
                                FROM deleted AS old_job)
END');
-- An event: its job reported now (at most one move per 0.1 s). A Lost job that reports is
-- made Running by the service's own write (operations.create_event), not here: that keeps
-- this trigger to one statement every TDS engine runs (Babelfish refuses OUTPUT inside a
-- trigger) and saves the check on every event. The trigger of an earlier version did both:
-- it is replaced.
IF OBJECT_ID(N'dbo.armada_job_activity_event', N'TR') IS NOT NULL
    DROP TRIGGER dbo.armada_job_activity_event;
IF OBJECT_ID(N'dbo.armada_job_activity_report', N'TR') IS NULL
    EXEC (N'CREATE TRIGGER dbo.armada_job_activity_report ON dbo.armada_events AFTER INSERT AS
BEGIN
    SET NOCOUNT ON
    DECLARE @now DATETIME2(3) = SYSUTCDATETIME()
    UPDATE activity SET last_report = @now
    FROM dbo.armada_job_activity AS activity
    WHERE activity.job_uuid IN (SELECT new_event.job_uuid COLLATE Latin1_General_100_BIN2
                                FROM inserted AS new_event)
        AND activity.last_report < DATEADD(millisecond, -100, @now)
END');
-- Live jobs from before this table (or written while it was missing) start their wait now.
INSERT INTO dbo.armada_job_activity (job_uuid, last_report)
SELECT DISTINCT job.job_uuid COLLATE Latin1_General_100_BIN2, SYSUTCDATETIME()
FROM dbo.armada_jobs AS job
WHERE job.job_status IN ('Running', 'Pending') AND job.job_uuid IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM dbo.armada_job_activity AS activity WITH (UPDLOCK, HOLDLOCK)
                    WHERE activity.job_uuid = job.job_uuid COLLATE Latin1_General_100_BIN2);
