-- The schema's version (the last migration applied; 0: none, a new database or one made
-- before versions: armada/store/migrations.py) on every row, with one row per column of
-- Armada's three tables: its table, its name, its length limit in characters (-1: MAX, NULL:
-- not text), whether it belongs to a PRIMARY KEY or UNIQUE constraint. One row with no column
-- when the tables are missing. A start on an up-to-date database runs this query alone.
-- The version's table is made by the first migration.
IF OBJECT_ID(N'dbo.armada_schema_version', N'U') IS NULL
    SELECT 0 AS version, NULL AS table_name, NULL AS column_name, NULL AS max_length,
        0 AS is_key
ELSE
    SELECT
        version.version,
        c.TABLE_NAME AS table_name,
        c.COLUMN_NAME AS column_name,
        c.CHARACTER_MAXIMUM_LENGTH AS max_length,
        CASE WHEN EXISTS (
            SELECT 1
            FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS AS tc
            JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE AS kcu
                ON kcu.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
                AND kcu.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
            WHERE tc.CONSTRAINT_TYPE IN (N'PRIMARY KEY', N'UNIQUE')
                AND tc.TABLE_SCHEMA = c.TABLE_SCHEMA
                AND tc.TABLE_NAME = c.TABLE_NAME
                AND kcu.COLUMN_NAME = c.COLUMN_NAME
        ) THEN 1 ELSE 0 END AS is_key
    FROM dbo.armada_schema_version AS version
    LEFT JOIN INFORMATION_SCHEMA.COLUMNS AS c
        ON c.TABLE_SCHEMA = N'dbo'
        AND c.TABLE_NAME IN (N'armada_runs', N'armada_jobs', N'armada_events')
    ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION;
