-- DuckDB's side of bench/compare-duckdb.sh: the two channels floodwatch turns into the spawn-rate and
-- outbound-volume signals, hand-written over the same files. __DIR__ (the fleet: one folder per host) and
-- __OUT__ (where results go) are filled in by the script; `SET threads` is set before these run.
-- Each statement writes its full result to a CSV file, so nothing can be skipped or optimized away.

-- (a) Network-tool execs per parent process per 30 s window, from the eslogger JSON lines; a window is hot
--     above 5 execs/s (floodwatch's thresholds.tool_spawns_per_s). The tools are scope.network_tools of
--     config/floodwatch.toml. eslogger writes `exec` with `process` = the image that called exec (same pid),
--     so the parent is process.ppid (the target's ppid as a fallback). `time` is RFC 3339 with nanoseconds;
--     the 30 s bucket only needs whole seconds.
COPY (
    WITH execs AS (
        SELECT
            regexp_extract(filename, '([^/]+)/[^/]+$', 1) AS host,
            coalesce(process.ppid, event.exec.target.ppid) AS parent,
            regexp_extract(event.exec.target.executable.path, '[^/]*$') AS tool,
            CAST(floor(epoch(CAST(substr(time, 1, 19) AS TIMESTAMP)) / 30) AS BIGINT) * 30 AS window_start
        FROM read_json('__DIR__/*/eslogger.jsonl',
            format = 'newline_delimited', filename = true,
            columns = {
                time: 'VARCHAR',
                process: 'STRUCT(ppid INTEGER)',
                event: 'STRUCT(exec STRUCT(target STRUCT(ppid INTEGER, executable STRUCT(path VARCHAR))))'
            })
        WHERE event.exec IS NOT NULL
    )
    SELECT host, parent, to_timestamp(window_start) AS window_start, count(*) AS tool_execs,
           count(*) / 30.0 AS execs_per_s
    FROM execs
    WHERE tool IN ('ping', 'ping6', 'curl', 'wget', 'hping', 'hping3', 'nping', 'nc', 'ncat', 'netcat', 'socat', 'iperf', 'iperf3', 'ab', 'hey', 'wrk', 'siege', 'http', 'xh', 'telnet', 'nmap', 'masscan', 'dig', 'nslookup', 'nscurl', 'networkQuality', 'traceroute', 'traceroute6', 'mtr')
    GROUP BY host, parent, window_start
    HAVING count(*) / 30.0 > 5
    ORDER BY host, window_start, parent
) TO '__OUT__/duckdb-execs.csv' (HEADER);

-- (b) Outbound bytes per process per 30 s window, from the nettop CSV captures (`nettop -L 0 -s 1`):
--     - the header line repeats before every frame: those rows are dropped (c0 = 'time');
--     - the second column has no header and holds `Name.pid` on process rows, `proto local<->remote` on
--       socket rows: process rows carry the process's total, so only they are kept (socket rows would count
--       the same bytes twice);
--     - counters are cumulative since the capture began: the delta is this row minus the same process's
--       previous row (LAG over time; the first row of each process is only a baseline, and a counter that
--       falls is clamped to 0);
--     - `time` is a local time of day without date or zone: rows are ordered by it within a host (the
--       script checks that no capture crosses midnight) and bucketed by 30 s of it (host UTC offsets are whole
--       half hours, so the buckets line up with UTC windows).
--     Captures differ in columns (-J subsets): 22 columns are declared and shorter rows are padded; only
--     time, name and bytes_out (the 1st, 2nd and 6th column in every layout used here) are read.
COPY (
    WITH rows AS (
        SELECT
            regexp_extract(filename, '([^/]+)/[^/]+$', 1) AS host,
            c1 AS process,
            epoch(CAST(c0 AS TIME)) AS tod,
            CAST(c5 AS BIGINT) AS bytes_out_total
        FROM read_csv('__DIR__/*/nettop.csv',
            header = false, auto_detect = false, filename = true, null_padding = true,
            delim = ',', quote = '', escape = '',
            columns = { c0: 'VARCHAR', c1: 'VARCHAR', c2: 'VARCHAR', c3: 'VARCHAR', c4: 'VARCHAR', c5: 'VARCHAR', c6: 'VARCHAR', c7: 'VARCHAR', c8: 'VARCHAR', c9: 'VARCHAR', c10: 'VARCHAR', c11: 'VARCHAR', c12: 'VARCHAR', c13: 'VARCHAR', c14: 'VARCHAR', c15: 'VARCHAR', c16: 'VARCHAR', c17: 'VARCHAR', c18: 'VARCHAR', c19: 'VARCHAR', c20: 'VARCHAR', c21: 'VARCHAR' })
        WHERE c0 <> 'time' AND c1 NOT LIKE '%<->%'
    ),
    deltas AS (
        SELECT host, process, tod,
               greatest(bytes_out_total
                        - lag(bytes_out_total) OVER (PARTITION BY host, process ORDER BY tod), 0) AS bytes_out
        FROM rows
    )
    SELECT host, process, CAST(floor(tod / 30) AS BIGINT) * 30 AS window_start_tod_s,
           sum(bytes_out) AS bytes_out, sum(bytes_out) / 30.0 AS bytes_out_per_s
    FROM deltas
    WHERE bytes_out IS NOT NULL
    GROUP BY host, process, window_start_tod_s
    ORDER BY host, window_start_tod_s, process
) TO '__OUT__/duckdb-nettop.csv' (HEADER);
