"""floodwatch's SIEM test harness, run with the venv that tests/siem/setup-venv.sh builds
(sigma-cli, pySigma and its Splunk, Elasticsearch, Kusto and DuckDB backends, duckdb).

  python siem.py check RULES_DIR
      `sigma check` (sigma-cli, every validator of pySigma and the SigmaHQ validators) on the
      exported rules, failing on any issue. The validators' reference data (ATT&CK, SigmaHQ
      taxonomy and file-name prefixes) is read from tests/data/sigma-data/ instead of the network.
  python siem.py convert RULES_DIR OUT.json
      Converts every rule (a correlation together with its base rule) with the Splunk, ES|QL,
      Kusto and DuckDB backends; writes one record per rule and backend. A feature the backend
      does not implement (pySigma's SigmaFeatureNotSupportedByBackendError) is recorded as
      "unsupported" with the backend's message; any other error fails.
  python siem.py duckdb RULES_DIR FLEET_DIR WINDOW_SECS OUT.json
      Runs the DuckDB backend's SQL for the declared-flood rules and the exec-burst correlation
      over the fleet's eslogger JSON lines (one folder per host) and writes the (host, parent,
      window) triples each flags. The backend ignores a correlation's timespan (its SQL groups
      the whole table), so the harness supplies the windows: the correlation's SQL runs once per
      window over a `logs` table holding that window's events, windows of WINDOW_SECS starting
      every WINDOW_SECS/2 (floodwatch's half-window hops), aligned to the epoch as the engine's.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "sigma-data"


def offline_reference_data():
    from sigma.data import mitre_attack
    from sigma.validators.sigmahq.data import data_filename, data_taxonomy

    mitre_attack.set_url(str(DATA / "attack-t1498-subset.json"))
    data_taxonomy.set_url(str(DATA / "sigmahq_taxonomy.macos.json"))
    data_filename.set_url(str(DATA / "sigmahq_filename.macos.json"))


def check(rules_dir):
    offline_reference_data()
    from sigma.cli import main as cli_main

    sys.argv = [
        "sigma",
        "check",
        "--fail-on-issues",
        "-c",
        str(Path(rules_dir) / "sigma-validation.yaml"),
        str(rules_dir),
    ]
    cli_main.main()


def rule_groups(rules_dir):
    """Each standalone rule alone; each correlation with its base rule(s). Read from the YAML, as
    a correlation cannot be loaded without its base rules."""
    import yaml

    files = sorted(Path(rules_dir).glob("*.yml"))
    docs = {f: yaml.safe_load(f.read_text()) for f in files}
    by_name = {d.get("name"): f for f, d in docs.items() if d.get("name")}
    referenced = set()
    for d in docs.values():
        referenced.update(d.get("correlation", {}).get("rules", []))
    groups = []
    for f, d in docs.items():
        if "correlation" in d:
            bases = [by_name[n] for n in d["correlation"]["rules"]]
            groups.append((f.name, bases + [f], True))
        elif d.get("name") not in referenced:
            groups.append((f.name, [f], False))
    return groups


def backends():
    from sigma.backends.elasticsearch import ESQLBackend
    from sigma.backends.kusto import KustoBackend
    from sigma.backends.splunk import SplunkBackend
    from sigma_backend_duckdb import DuckDBBackend

    return {
        "splunk": SplunkBackend,
        "esql": ESQLBackend,
        "kusto": KustoBackend,
        "duckdb": DuckDBBackend,
    }


def convert(rules_dir, out):
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

    records = []
    failed = False
    for name, files, is_correlation in rule_groups(rules_dir):
        for bname, cls in backends().items():
            rec = {"rule": name, "backend": bname, "correlation": is_correlation}
            try:
                queries = cls().convert(SigmaCollection.load_ruleset(files))
                rec["status"] = "ok"
                rec["queries"] = [str(q) for q in queries]
                if not queries:
                    rec["status"] = "error"
                    rec["message"] = "no query"
                    failed = True
            except (SigmaFeatureNotSupportedByBackendError, NotImplementedError) as e:
                # pySigma raises NotImplementedError for correlation types a backend lacks.
                rec["status"] = "unsupported"
                rec["message"] = str(e)
            except Exception as e:  # noqa: BLE001 - any other error fails the test
                rec["status"] = "error"
                rec["message"] = f"{type(e).__name__}: {e}"
                failed = True
            records.append(rec)
    Path(out).write_text(json.dumps(records, indent=1))
    for r in records:
        print(f"{r['backend']:7} {r['status']:11} {r['rule']} {r.get('message', '')}")
    sys.exit(1 if failed else 0)


# The eslogger exec events as the macOS process_creation taxonomy names their fields. `process` of
# an exec event is the image before the exec: for a fork+exec, a copy of the parent (its path is
# the parent's image, its ppid the parent's pid).
EXEC_VIEW = """
CREATE TABLE events AS
SELECT
  regexp_extract(filename, '([^/]+)/[^/]+$', 1) AS Computer,
  CAST(json->>'$.time' AS TIMESTAMPTZ) AS timestamp,
  epoch(CAST(json->>'$.time' AS TIMESTAMPTZ)) AS t,
  json->>'$.event.exec.target.executable.path' AS Image,
  array_to_string(CAST(json->'$.event.exec.args' AS VARCHAR[]), ' ') AS CommandLine,
  json->>'$.process.executable.path' AS ParentImage,
  CAST(json->>'$.process.ppid' AS BIGINT) AS ParentProcessId,
  CAST(COALESCE(json->>'$.event.exec.target.audit_token.pid',
                json->>'$.event.exec.target.audit_token[5]') AS BIGINT) AS ProcessId,
  CAST(COALESCE(json->>'$.event.exec.target.audit_token.euid',
                json->>'$.event.exec.target.audit_token[1]') AS VARCHAR) AS User
FROM read_ndjson_objects(?, filename = true, ignore_errors = true)
WHERE CAST(json->>'$.event_type' AS INTEGER) = 9
"""


def duckdb_triples(rules_dir, fleet, window, out):
    import duckdb
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule
    from sigma_backend_duckdb import DuckDBBackend

    window = int(window)
    hop = max(window // 2, 1)
    con = duckdb.connect()
    files = sorted(str(p) for p in Path(fleet).rglob("eslogger.jsonl"))
    con.execute(EXEC_VIEW, [files])
    total = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    backend = DuckDBBackend()
    result = {"exec_events": total, "declared": [], "exec_burst": [], "exec_burst_aligned": [], "queries": {}}
    result["hosts"] = sorted({r[0] for r in con.execute("SELECT DISTINCT Computer FROM events").fetchall()})

    for name, group, is_correlation in rule_groups(rules_dir):
        coll = SigmaCollection.load_ruleset(group)
        queries = backend.convert(coll)
        rule = [r for r in coll.rules if not is_correlation or isinstance(r, SigmaCorrelationRule)][0]
        if not is_correlation:
            if "network_traffic_sample" in name or "network_tool_exec" in name:
                continue
            sql = queries[0]
            result["queries"][name] = sql
            con.execute("CREATE OR REPLACE VIEW logs AS SELECT * FROM events")
            for row in con.execute(
                f"SELECT Computer, ParentProcessId, ProcessId, t, CommandLine FROM ({sql})"
            ).fetchall():
                host, ppid, pid, t, cmd = row
                result["declared"].append(
                    {"rule": name, "host": host, "parent": ppid, "pid": pid, "time": t,
                     "cmdline": cmd}
                )
        elif "exec_burst" in name:
            sql = queries[0]
            result["queries"][name] = sql
            # The base rule's events decide which windows can hold a burst at all.
            base_sql = sql.split("FROM (", 1)[1].rsplit(") AS subquery", 1)[0]
            con.execute("CREATE OR REPLACE VIEW logs AS SELECT * FROM events")
            times = [int(r[0]) for r in con.execute(f"SELECT t FROM ({base_sql})").fetchall()]
            # floodwatch's windows (every half window) and a SIEM's aligned buckets (every window).
            for key, step in (("exec_burst", hop), ("exec_burst_aligned", window)):
                starts = sorted({t // step * step - k * step for t in times for k in range(window // step)})
                result[key + "_windows_run"] = len(starts)
                for ws in starts:
                    con.execute(
                        f"CREATE OR REPLACE VIEW logs AS SELECT * FROM events WHERE t >= {ws} AND t < {ws + window}"
                    )
                    for row in con.execute(sql).fetchall():
                        host, ppid, pimage, count = row[0], row[1], row[2], row[-1]
                        result.setdefault(key, []).append(
                            {"host": host, "parent": ppid, "parent_image": pimage, "window": ws, "execs": count}
                        )
    Path(out).write_text(json.dumps(result, indent=1, default=str))
    print(
        f"duckdb: {total} exec events, {len(result['declared'])} declared hits, "
        f"{len(result['exec_burst'])} exec-burst (host, parent, window) hits over {result.get('exec_burst_windows_run', 0)} windows, "
        f"{len(result['exec_burst_aligned'])} in aligned {window}s buckets"
    )


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"check": check, "convert": convert, "duckdb": duckdb_triples}[cmd](*args)
