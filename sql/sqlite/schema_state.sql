-- The schema's version (the last migration applied; 0: none, a new database or one made
-- before versions: armada/store/migrations.py) on every row, with one row per column of
-- Armada's three tables: its table, its name, its length limit in characters (NULL: none),
-- whether it is a key. One row with no column when the tables are missing. A start on an
-- up-to-date database runs this query alone.
SELECT version.user_version AS version, columns.table_name, columns.column_name,
    columns.max_length, columns.is_key
FROM pragma_user_version AS version
LEFT JOIN (
    SELECT
        armada_table.name AS table_name,
        info.name AS column_name,
        CASE WHEN instr(info.type, '(') > 0
            THEN CAST(substr(info.type, instr(info.type, '(') + 1) AS INTEGER)
        END AS max_length,
        CASE WHEN info.pk > 0 THEN 1 ELSE 0 END AS is_key
    FROM (SELECT 'armada_runs' AS name UNION ALL SELECT 'armada_jobs'
          UNION ALL SELECT 'armada_events') AS armada_table,
        pragma_table_info(armada_table.name) AS info
) AS columns ON 1 = 1;
