-- One row per column: its name, its length limit in characters (NULL: none), whether it is a key.
SELECT
    name AS column_name,
    CASE WHEN instr(type, '(') > 0
        THEN CAST(substr(type, instr(type, '(') + 1) AS INTEGER)
    END AS max_length,
    CASE WHEN pk > 0 THEN 1 ELSE 0 END AS is_key
FROM pragma_table_info(:table_name);
