#!/usr/bin/env python3
"""Regenerates fuzz/seeds/ from the repository's real samples plus a few hostile shapes.

Run from anywhere: python3 fuzz/make_seeds.py. Rewrites fuzz/seeds/<target>/ and PROVENANCE.md.
"""
import gzip, os, re, shutil, struct

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
SEEDS = os.path.join(FUZZ, "seeds")
CORPUS = os.path.join(ROOT, "tests/data/corpus")
EXAMPLES = os.path.join(ROOT, "examples/collection")
MAX = 200 * 1024          # copies only of files under 200 KB
HEAD_LINES = 200          # larger text files: their first 200 lines

copied = []   # (target, seed name, source path, how)

def rd(p):
    with open(p, "rb") as f:
        return f.read()

def head(data, n=HEAD_LINES):
    return b"".join(data.splitlines(keepends=True)[:n])

def put(target, name, data, src=None, how="copy"):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    copied.append((target, name, src, how, len(data)))

def corpus(target, rel):
    p = os.path.join(CORPUS, rel)
    data = rd(p)
    if len(data) < MAX:
        put(target, os.path.basename(rel), data, "tests/data/corpus/" + rel)
    else:
        put(target, os.path.basename(rel) + ".head200", head(data), "tests/data/corpus/" + rel, "first 200 lines")
    return data

def example(target, rel):
    data = head(rd(os.path.join(EXAMPLES, rel)))
    put(target, rel.replace("/", "_") + ".head200", data, "examples/collection/" + rel, "first 200 lines")
    return data

def hostile(target, name, data, what):
    put(target, name, data, None, "hostile: " + what)

def pcap_head(data, limit=60 * 1024):
    """A legacy pcap cut after the last whole packet record within `limit` bytes."""
    magic = data[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, pkts = 24, []
    while off + 16 <= len(data):
        ts_s, ts_u, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        end = off + 16 + incl
        if end > limit or end > len(data):
            break
        pkts.append((ts_s, ts_u, data[off + 16:end], orig))
        off = end
    linktype = struct.unpack(e + "I", data[20:24])[0]
    return data[:off], pkts, linktype

def pcapng_from(pkts, linktype, n=40):
    """The same packets as pcapng: section header, one interface (µs), enhanced packet blocks."""
    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        ln = 12 + len(body)
        return struct.pack("<II", t, ln) + body + struct.pack("<I", ln)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 0))
    for ts_s, ts_u, pkt, orig in pkts[:n]:
        ts = ts_s * 1_000_000 + ts_u
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(pkt), orig) + pkt)
    return out

def main():
    if os.path.isdir(SEEDS):
        shutil.rmtree(SEEDS)
    os.makedirs(SEEDS)

    # eslogger
    es = corpus("eslogger", "eslogger/mullvad_eslogger_v9_v10_v11.ndjson")
    corpus("eslogger", "eslogger/macmonitor_fixture_eslogger-exit_v10_sanitized.jsonl")
    ex_es = example("eslogger", "admin-mbp-02/eslogger.jsonl")
    example("eslogger", "build-mac-07/eslogger.jsonl")
    exec_line = next(l for l in ex_es.splitlines() if b'"args":["' in l)
    i = exec_line.index(b'"args":["') + len(b'"args":["')
    hostile("eslogger", "hostile_argv_invalid_utf8.jsonl", exec_line[:i] + b"\xff\xfe\xc3(" + exec_line[i:] + b"\n", "invalid UTF-8 bytes inside an argv string of a real exec event")
    hostile("eslogger", "hostile_nul_line.jsonl", exec_line + b"\n\0\0\0\0\n" + exec_line + b"\n", "a line of NUL bytes between two real events")
    hostile("eslogger", "hostile_bom.jsonl", b"\xef\xbb\xbf" + head(es, 5), "UTF-8 BOM before the first record")
    first = es.splitlines()[0]
    j = first.index(b'"time":"') + len(b'"time":"')
    hostile("eslogger", "hostile_year_2610.jsonl", first[:j] + b"2610" + first[j + 4:] + b"\n", "an event dated in year 2610")
    # eslogger_fast (the fast path against serde, line by line): the real lines, one seed each
    for n, line in enumerate(es.splitlines()):
        put("eslogger_fast", f"mullvad_line{n + 1}.json", line, "tests/data/corpus/eslogger/mullvad_eslogger_v9_v10_v11.ndjson", f"line {n + 1}")

    # nettop
    csv = corpus("nettop_csv", "nettop/netglass_nettop_L1_J_conn_rows_macos26.csv")
    ex_csv = example("nettop_csv", "admin-mbp-02/nettop.csv")
    lines = ex_csv.splitlines(keepends=True)
    big = lines[:3] + [b"09:02:31.060700,mDNSResponder.286,,,18446744073709551615,131,\n",
                       b"09:02:31.055362,udp4 *:5353<->*:*,en0,,18446744073709551615,18446744073709551615,\n"] + lines[3:20]
    hostile("nettop_csv", "hostile_u64_max_counter.csv", b"".join(big), "counters of 18446744073709551615 (u64::MAX)")
    hostile("nettop_csv", "hostile_nul_line.csv", b"".join(lines[:5]) + b"\0" * 8 + b"\n" + b"".join(lines[5:12]), "a NUL byte line")
    hostile("nettop_csv", "hostile_bom.csv", b"\xef\xbb\xbf" + b"".join(lines[:12]), "UTF-8 BOM at the start")
    fixed = corpus("nettop_fixed", "nettop/whichway_nettop_P_x_l2_fixedwidth.txt")
    fl = fixed.splitlines(keepends=True)
    row = fl[2]
    k = row.rstrip().rfind(b" ")
    hostile("nettop_fixed", "hostile_u64_max_counter.txt", b"".join(fl[:2]) + row[:k + 1] + b"18446744073709551615\n" + b"".join(fl[3:]) , "a counter of 18446744073709551615")
    hostile("nettop_fixed", "hostile_nul_line.txt", b"".join(fl[:4]) + b"\0\0\0\n" + b"".join(fl[4:10]), "a NUL byte line")
    corpus("nettop_fixed", "nettop/agentmon_nettop_fixedwidth_header_after_rows.txt")
    put("nettop_fixed", "whichway_header_below_rows.txt", b"".join(fl[1:]) + fl[0],
        "tests/data/corpus/nettop/whichway_nettop_P_x_l2_fixedwidth.txt", "rows first, then the header line (a terminal copy)")

    # unified log
    ul = corpus("unifiedlog_ndjson", "unifiedlog/elastic_macos_network_activity.ndjson")
    corpus("unifiedlog_ndjson", "unifiedlog/elastic_macos_authentication_loginwindow.ndjson")
    corpus("unifiedlog_ndjson", "unifiedlog/elastic_macos_process_execution_monitoring.ndjson")
    ex_ul = example("unifiedlog_ndjson", "admin-mbp-02/unifiedlog.ndjson")
    example("unifiedlog_ndjson", "build-mac-07/unifiedlog.ndjson")
    # unifiedlog_fast (the scanner against serde, line by line): the real samples, whole
    for n in ("elastic_macos_network_activity", "elastic_macos_authentication_loginwindow", "elastic_macos_process_execution_monitoring"):
        corpus("unifiedlog_fast", f"unifiedlog/{n}.ndjson")
    objs = [l for l in ul.splitlines() if l.strip()]
    put("unifiedlog_json", "elastic_macos_network_activity.as_array.json", b"[\n" + b",\n".join(objs) + b"\n]\n",
        "tests/data/corpus/unifiedlog/elastic_macos_network_activity.ndjson", "records wrapped in one JSON array (`log show --style json`)")
    import json as _json
    pretty = _json.dumps(_json.loads(objs[0]), indent=2).replace('": ', '" : ').encode()
    put("unifiedlog_json", "elastic_macos_network_activity.one_object.json", pretty + b"\n",
        "tests/data/corpus/unifiedlog/elastic_macos_network_activity.ndjson", "first record pretty-printed alone, no array (`log show --style json` cut to one record)")
    exo = [l for l in ex_ul.splitlines() if l.strip()][:50]
    put("unifiedlog_json", "admin-mbp-02_unifiedlog.as_array.json", b"[" + b",".join(exo) + b"]",
        "examples/collection/admin-mbp-02/unifiedlog.ndjson", "first 50 records wrapped in one JSON array")
    t = ex_ul.find(b'"timestamp":"')
    if t >= 0:
        line_start = ex_ul.rfind(b"\n", 0, t) + 1
        line_end = ex_ul.find(b"\n", t)
        line = ex_ul[line_start:line_end]
        tt = line.index(b'"timestamp":"') + len(b'"timestamp":"')
        y = line[:tt] + b"2610" + line[tt + 4:]
        hostile("unifiedlog_ndjson", "hostile_year_2610.ndjson", y + b"\n", "a record dated in year 2610")
        hostile("unifiedlog_json", "hostile_year_2610.json", b"[" + y + b"]", "a record dated in year 2610")
    hostile("unifiedlog_ndjson", "hostile_bom_nul.ndjson", b"\xef\xbb\xbf" + objs[0] + b"\n\0\n" + objs[1] + b"\n", "BOM, then a NUL line")

    # osquery
    oq = corpus("osquery", "osquery/elastic_test-osquery_first3lines.ndjson")
    hostile("osquery", "hostile_nul_bom.ndjson", b"\xef\xbb\xbf" + oq + b"\0\n", "BOM and a NUL line")
    o1 = oq.splitlines()[0]
    hostile("osquery", "hostile_year_2610.ndjson", re.sub(rb'"unixTime":("?)\d+', rb'"unixTime":\g<1>20196432000', o1, count=1) + b"\n", "unixTime in year 2610")

    # jamf / elastic
    for f in sorted(os.listdir(os.path.join(CORPUS, "jamf_protect/telemetry"))):
        corpus("jamf_protect", "jamf_protect/telemetry/" + f)
    corpus("jamf_protect", "jamf_protect/alerts/GPProcessEvent.json")
    jt = corpus("jamf_telemetry", "jamf_protect_telemetry/elastic_jamf_protect_telemetry_sample_lines.ndjson")
    import json
    jt_exec = jt.splitlines()[4]
    hostile("jamf_telemetry", "hostile_pretty_exec.json", json.dumps(json.loads(jt_exec), indent=2).encode() + b"\n", "the real ping exec record pretty-printed")
    hostile("jamf_telemetry", "hostile_year_2610.ndjson", jt_exec.replace(b'"time":"2024-', b'"time":"2610-') + b"\n", "time in year 2610")
    hostile("jamf_telemetry", "hostile_nul_line.ndjson", jt.splitlines(keepends=True)[0] + b"\0\0\n" + jt_exec + b"\n", "a NUL byte line between two real records")
    for f in ("endpointpkg_network_sample_event.json", "endpointpkg_process_sample_event.json", "ecs_rfc0030_linux_exec_event.json"):
        corpus("elastic_defend", "elastic_defend/" + f)
    ed = rd(os.path.join(CORPUS, "elastic_defend/endpointpkg_network_sample_event.json"))
    hostile("elastic_defend", "hostile_year_2610.json", re.sub(rb'("@timestamp":\s*")\d{4}', rb'\g<1>2610', ed, count=1), "@timestamp in year 2610")

    # zeek
    tsv = corpus("zeek_tsv", "zeek/zeekdocs_conn_tsv_real_ts.log")
    corpus("zeek_tsv", "zeek/zeek_btest_core.pppoe_conn_canonified.log")
    corpus("zeek_tsv", "datasets/stratosphere-zeek-conn/008-zeek-mixed.conn.log.labeled")
    corpus("zeek_tsv", "datasets/stratosphere-zeek-conn/002-zeek-scenario-port-scanning.conn.log")
    tl = tsv.splitlines(keepends=True)
    row = tl[8].split(b"\t")
    row[16] = b"18446744073709551615"   # orig_pkts
    hostile("zeek_tsv", "hostile_orig_pkts_u64_max.log", b"".join(tl[:8]) + b"\t".join(row) + b"".join(tl[9:]), "orig_pkts 18446744073709551615")
    row = tl[8].split(b"\t")
    row[0] = b"20196432000.000000"     # 2610-01-01
    hostile("zeek_tsv", "hostile_year_2610.log", b"".join(tl[:8]) + b"\t".join(row) + b"".join(tl[9:]), "ts in year 2610")
    hostile("zeek_tsv", "hostile_nul_line.log", b"".join(tl[:8]) + b"\0\0\n" + b"".join(tl[8:]), "a NUL byte line")
    zj = corpus("zeek_json", "zeek/zeekdocs_conn_json.ndjson")
    z1 = zj.splitlines()[0]
    hostile("zeek_json", "hostile_orig_pkts_u64_max.ndjson", z1.replace(b'"orig_pkts":2', b'"orig_pkts":18446744073709551615') + b"\n", "orig_pkts 18446744073709551615")
    hostile("zeek_json", "hostile_year_2610.ndjson", z1.replace(b'"ts":1591367999.305988', b'"ts":20196432000.5') + b"\n", "ts in year 2610")

    # captures: the corpus pcaps are 0.8-2 MB, so their first ~60 KB (whole packets) only
    for f in ("CIC-DDoS-2019-SynFlood.pcap", "CIC-DDoS-2019-WebDDoS.pcap"):
        data = rd(os.path.join(CORPUS, "pcap", f))
        cut, pkts, lt = pcap_head(data)
        put("pcap", f + ".head60k", cut, "tests/data/corpus/pcap/" + f, "global header + the whole packets within the first 60 KB")
        put("pcapng", f[:-5] + ".first40.pcapng", pcapng_from(pkts, lt), "tests/data/corpus/pcap/" + f, "first 40 packets rewritten as pcapng (SHB, IDB, EPBs)")
    hostile("pcap", "hostile_truncated.pcap", cut[:24 + 16 + 10], "a record cut short")
    hostile("pcapng", "hostile_truncated.pcapng", pcapng_from(pkts, lt, 3)[:-7], "the last block cut short")

    # sniff: heads of one sample per format (and the hostile ones)
    for target in sorted(os.listdir(SEEDS)):
        if target in ("sniff",):
            continue
        for name in sorted(os.listdir(os.path.join(SEEDS, target))):
            data = rd(os.path.join(SEEDS, target, name))[:16 * 1024]
            put("sniff", target + "__" + name, data, None, "head (16 KB) of seeds/%s/%s" % (target, name))

    # input: plain, BOM, gzip (one and two members), truncated gzip, zstd if available
    put("input", "eslogger_plain.jsonl", head(es, 20), "tests/data/corpus/eslogger/mullvad_eslogger_v9_v10_v11.ndjson", "first 20 lines")
    hostile("input", "eslogger_bom.jsonl", b"\xef\xbb\xbf" + head(es, 5), "UTF-8 BOM at the start")
    gz = gzip.compress(head(es, 20), mtime=0)
    hostile("input", "eslogger.jsonl.gz", gz, "gzip of the first 20 lines of the mullvad eslogger sample")
    hostile("input", "eslogger_two_members.jsonl.gz", gz + gzip.compress(b"\xef\xbb\xbf" + head(es, 2), mtime=0), "two gzip members, the second with a BOM")
    hostile("input", "eslogger_truncated.jsonl.gz", gz[: len(gz) // 2], "a gzip cut in half")
    hostile("input", "gzip_bom.jsonl.gz", gzip.compress(b"\xef\xbb\xbf" + head(es, 3), mtime=0), "gzip whose text starts with a BOM")
    hostile("input", "bzip2_magic.bin", b"BZh91AY&SY" + b"\0" * 8, "bzip2 magic (refused)")
    hostile("input", "xz_magic.bin", b"\xfd7zXZ\0" + b"\0" * 8, "xz magic (refused)")
    hostile("input", "zip_magic.bin", b"PK\x03\x04" + b"\0" * 8, "zip magic (refused)")
    try:
        import subprocess
        z = subprocess.run(["zstd", "-q", "-c"], input=head(es, 20), capture_output=True, check=True).stdout
        hostile("input", "eslogger.jsonl.zst", z, "zstd of the first 20 lines of the mullvad eslogger sample")
    except Exception:
        # A hand-made zstd frame: one raw block holding the text (no compression needed).
        text = head(es, 20)[:60000]
        fhd = 0x20  # single segment, FCS size 1/2 bytes chosen below
        if len(text) < 256:
            fh = bytes([0x20, len(text)])
        else:
            fh = bytes([0x60]) + struct.pack("<H", len(text) - 256)
        blk = (len(text) << 3) | 1  # last block, raw
        z = b"\x28\xb5\x2f\xfd" + fh + struct.pack("<I", blk)[:3] + text
        hostile("input", "eslogger.jsonl.zst", z, "zstd frame (raw block) of the first lines of the mullvad eslogger sample")
    hostile("input", "zstd_truncated.zst", z[: len(z) // 2], "a zstd frame cut in half")

    write_provenance()

def write_provenance():
    out = ["# Fuzz seeds: provenance", "",
           "Generated by `python3 fuzz/make_seeds.py`. Every seed not marked *hostile* is a copy (or the",
           "stated cut) of a file in this repository: `tests/data/corpus/…` (their origins and licences are in the",
           "PROVENANCE.md of each corpus folder, e.g. `tests/data/corpus/eslogger/PROVENANCE.md`, and in",
           "`tests/data/corpus/README.md`) or",
           "`examples/collection/…` (the bundled demo collection). Hostile seeds are edits of those samples.", "",
           "| target | seed | source | how | bytes |", "|---|---|---|---|---|"]
    for target, name, src, how, n in copied:
        out.append("| %s | `%s` | %s | %s | %d |" % (target, name, ("`%s`" % src) if src else "—", how, n))
    with open(os.path.join(SEEDS, "PROVENANCE.md"), "w") as f:
        f.write("\n".join(out) + "\n")

if __name__ == "__main__":
    main()
