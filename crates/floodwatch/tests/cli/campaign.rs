//! Fleet-wide campaigns end to end, on simulated telemetry in the real formats (eslogger JSON Lines and
//! nettop CSV per host): five Macs running the same curl-loop script against one address within a
//! minute are one campaign that links the five alerts, whatever the number of threads; five Macs
//! flooding five different addresses are five unrelated alerts. Also: the OCSF campaign line, the
//! bundled example, and `alerts similar` with dispositions from the store.

use crate::common;

use common::{repo_root, run_cli};
use floodwatch_core::config::Config;
use floodwatch_core::Ts;
use floodwatch_engine::suppress::Suppressions;
use floodwatch_runtime::{hunt, HuntOptions, HuntResult};
use std::path::Path;

const HOSTS: [&str; 5] = ["mac-01", "mac-02", "mac-03", "mac-04", "mac-05"];
/// 2025-09-16T10:00:00Z.
const START: i64 = 1_758_016_800;

fn hunt_dir(dir: &Path, threads: usize) -> HuntResult {
    let opts = HuntOptions {
        paths: vec![dir.to_path_buf()],
        threads,
        ..Default::default()
    };
    hunt(&opts, Config::default(), Suppressions::default()).unwrap()
}

#[test]
fn five_hosts_one_script_one_address_is_one_campaign_linking_the_five_alerts() {
    let dir = tempfile::tempdir().unwrap();
    floodwatch_sim::write_campaign(
        dir.path(),
        &HOSTS,
        &["203.0.113.77"],
        Ts::from_secs(START),
        1,
    )
    .unwrap();
    let res = hunt_dir(dir.path(), 1);
    assert_eq!(res.alerts.len(), 5, "one alert per host");
    assert_eq!(res.campaigns.len(), 1, "{:#?}", res.campaigns);
    let c = &res.campaigns[0];
    assert_eq!(c.hosts, HOSTS);
    assert_eq!(c.destination, "203.0.113.77");
    assert_eq!(c.members.len(), 5);
    let mut member_ids: Vec<&str> = c.members.iter().map(|m| m.id.as_str()).collect();
    member_ids.sort_unstable();
    let mut alert_ids: Vec<&str> = res.alerts.iter().map(|a| a.alert.id.as_str()).collect();
    alert_ids.sort_unstable();
    assert_eq!(member_ids, alert_ids);
    // Each alert names the campaign, with a reason that counts the hosts.
    for a in &res.alerts {
        let a = &a.alert;
        assert_eq!(
            a.campaign.as_ref().map(|r| r.id.as_str()),
            Some(c.id.as_str())
        );
        let r = a.reasons.iter().find(|r| r.code == "campaign").unwrap();
        assert!(
            r.text.contains("5 hosts flooded 203.0.113.77"),
            "{}",
            r.text
        );
        assert_eq!(
            a.playbook.as_ref().unwrap().impact[0].hosts_same_destination,
            5
        );
    }
    // What the members share, from their own process data.
    assert!(
        c.shared_traits
            .iter()
            .any(|t| t.contains("/Users/*/Library/Application Support/.cache/sync.sh")),
        "{:?}",
        c.shared_traits
    );
    assert!(c
        .shared_traits
        .iter()
        .any(|t| t == "same tool /usr/bin/curl"));
    assert!(c.first_seen <= c.members.iter().map(|m| m.first_seen).min().unwrap());
    assert_eq!(c.playbook.recommended, "block_destination");

    // Threads change nothing: same campaign id, same member order, same alert scores.
    let again = hunt_dir(dir.path(), 3);
    assert_eq!(again.campaigns.len(), 1);
    assert_eq!(again.campaigns[0].id, c.id);
    let order = |r: &HuntResult| -> Vec<(String, u8)> {
        r.alerts
            .iter()
            .map(|a| (a.alert.id.clone(), a.alert.score))
            .collect()
    };
    assert_eq!(order(&res), order(&again));
    let members = |r: &HuntResult| -> Vec<String> {
        r.campaigns[0]
            .members
            .iter()
            .map(|m| m.id.clone())
            .collect()
    };
    assert_eq!(members(&res), members(&again));
}

#[test]
fn five_hosts_flooding_five_different_addresses_are_no_campaign() {
    let dir = tempfile::tempdir().unwrap();
    // Five networks (not one /24): five unrelated floods.
    let targets = [
        "203.0.113.77",
        "198.51.100.9",
        "192.0.2.44",
        "93.184.216.34",
        "45.33.32.156",
    ];
    floodwatch_sim::write_campaign(dir.path(), &HOSTS, &targets, Ts::from_secs(START), 1).unwrap();
    let res = hunt_dir(dir.path(), 2);
    assert_eq!(res.alerts.len(), 5);
    assert!(res.campaigns.is_empty(), "{:#?}", res.campaigns);
    for a in &res.alerts {
        assert!(a.alert.campaign.is_none());
        assert!(a.alert.reasons.iter().all(|r| r.code != "campaign"));
        let p = a.alert.playbook.as_ref().expect("a playbook");
        assert_eq!(p.impact[0].hosts_same_destination, 1);
    }
}

#[test]
fn the_campaign_is_first_in_the_table_and_its_ocsf_line_links_the_members() {
    let root = repo_root();
    let (table, _) = run_cli(&root, &["hunt", "examples/campaign", "--format", "table"]);
    assert!(
        table.starts_with("1 campaign(s)"),
        "{}",
        &table[..table.len().min(400)]
    );
    assert!(table.contains("CAMPAIGN HIGH"));
    assert_eq!(
        table.matches("   next    ").count(),
        6,
        "five alerts and the campaign"
    );
    let (jsonl, _) = run_cli(&root, &["hunt", "examples/campaign", "--format", "jsonl"]);
    let n = common::ocsf::assert_valid_jsonl("examples/campaign", &jsonl);
    assert_eq!(n, 6);
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["unmapped"]["floodwatch"]["kind"], "campaign");
    let related: Vec<&str> = first["finding_info"]["related_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uid"].as_str().unwrap())
        .collect();
    let members: Vec<String> = jsonl
        .lines()
        .skip(1)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(
                v["unmapped"]["floodwatch"]["campaign"]["id"],
                first["finding_info"]["uid"]
            );
            assert!(v["remediation"]["desc"]
                .as_str()
                .unwrap()
                .starts_with("Recommended first: "));
            v["finding_info"]["uid"].as_str().unwrap().to_string()
        })
        .collect();
    let mut related_sorted = related.clone();
    related_sorted.sort_unstable();
    let mut members_sorted: Vec<&str> = members.iter().map(String::as_str).collect();
    members_sorted.sort_unstable();
    assert_eq!(related_sorted, members_sorted);
}

#[test]
fn alerts_similar_lists_earlier_alerts_with_their_dispositions() {
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let db = db.to_str().unwrap();
    run_cli(
        &root,
        &["hunt", "examples/campaign", "--db", db, "--format", "jsonl"],
    );
    let (list, _) = run_cli(&root, &["alerts", "list", "--db", db, "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let mut by_host: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["first_seen"].as_str().unwrap().to_string(),
                r["host"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_host.sort();
    assert_eq!(by_host.len(), 5);
    // Two earlier ones were judged false positives by an analyst, one acknowledged.
    for (_, _, id) in &by_host[..2] {
        run_cli(
            &root,
            &[
                "alerts",
                "fp",
                id,
                "--db",
                db,
                "--by",
                "alice",
                "--reason",
                "load test of the beta API",
            ],
        );
    }
    run_cli(
        &root,
        &[
            "alerts",
            "ack",
            &by_host[2].2,
            "--db",
            db,
            "--by",
            "bob",
            "--reason",
            "investigating",
        ],
    );
    let last = &by_host[4].2;
    let (text, _) = run_cli(&root, &["alerts", "similar", last, "--db", db]);
    assert!(text.contains("4 earlier alert(s)"), "{text}");
    assert!(
        text.contains("marked false_positive 2 time(s): by alice"),
        "{text}"
    );
    assert!(text.contains("load test of the beta API"), "{text}");
    assert!(
        text.contains("marked acknowledged 1 time(s): by bob"),
        "{text}"
    );
    let (json, _) = run_cli(&root, &["alerts", "similar", last, "--db", db, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let similar = v["similar"].as_array().unwrap();
    assert_eq!(similar.len(), 4);
    for s in similar {
        // Different users' scripts (different paths), one destination.
        let shares: Vec<&str> = s["shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert!(shares.contains(&"destination"), "{shares:?}");
    }
    // The campaign is stored with its members, and listed first.
    let (listed, _) = run_cli(&root, &["alerts", "list", "--db", db]);
    assert!(listed.starts_with("1 campaign(s):"), "{listed}");
    assert!(
        listed.contains("5 hosts → 203.0.113.77 (5 member(s)"),
        "{listed}"
    );
    // Acknowledging the campaign (by an id prefix) acknowledges every member, each with the campaign
    // in its history.
    let campaign_id = listed
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let (acked, _) = run_cli(
        &root,
        &[
            "alerts",
            "ack",
            &campaign_id,
            "--db",
            db,
            "--by",
            "carol",
            "--reason",
            "blocked at the edge",
        ],
    );
    assert!(
        acked.contains("5 member alert(s) acknowledged by carol"),
        "{acked}"
    );
    let (after, _) = run_cli(&root, &["alerts", "list", "--db", db, "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&after).unwrap();
    assert!(
        rows.iter()
            .all(|r| r["mark"] == "acknowledged" && r["mark_by"] == "carol"),
        "{after}"
    );
    // `alerts show` prints the stored playbook.
    let (show, _) = run_cli(&root, &["alerts", "show", last, "--db", db]);
    assert!(show.contains("  playbook:"), "{show}");
    assert!(show.contains("decision points:"), "{show}");
    assert!(show.contains("<- recommended first"), "{show}");
    assert!(show.contains("campaign "), "{show}");
    assert!(show.contains("blocked at the edge (campaign "), "{show}");
}
