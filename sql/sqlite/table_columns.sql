-- One row per column of Armada's three tables: its table, its name, its length limit in
-- characters (NULL: none), whether it is a key.
SELECT
    armada_table.name AS table_name,
    info.name AS column_name,
    CASE WHEN instr(info.type, '(') > 0
        THEN CAST(substr(info.type, instr(info.type, '(') + 1) AS INTEGER)
    END AS max_length,
    CASE WHEN info.pk > 0 THEN 1 ELSE 0 END AS is_key
FROM (SELECT 'armada_runs' AS name UNION ALL SELECT 'armada_jobs' UNION ALL SELECT 'armada_events'
     ) AS armada_table,
    pragma_table_info(armada_table.name) AS info;
