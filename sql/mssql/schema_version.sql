-- The schema's version: the last migration applied (0: none, a new database or one made before
-- versions; armada/store/migrations.py). Its table is made by the first migration.
IF OBJECT_ID(N'dbo.armada_schema_version', N'U') IS NULL
    SELECT 0 AS version
ELSE
    SELECT version FROM dbo.armada_schema_version;
