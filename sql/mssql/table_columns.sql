-- One row per column of Armada's three tables: its table, its name, its length limit in
-- characters (-1: MAX, NULL: not text), whether it belongs to a PRIMARY KEY or UNIQUE constraint.
SELECT
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
FROM INFORMATION_SCHEMA.COLUMNS AS c
WHERE c.TABLE_SCHEMA = N'dbo'
    AND c.TABLE_NAME IN (N'armada_runs', N'armada_jobs', N'armada_events')
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION;
