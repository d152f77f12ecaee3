//! `floodwatch serve` as a user runs it: a store written by `hunt --db` (the bundled collection,
//! with one command line rewritten to hold script tags, an event handler, a `javascript:` URL, a
//! bidi override and an ANSI escape), the real binary listening on loopback, and HTTP requests.

use crate::common;

use common::serve::{
    bin, client, get, hostile_store, post_form, query_value, start, HOSTILE_BASH, HOSTILE_HOST,
};
use std::io::Write;
use std::process::Command;

#[test]
fn listening_beyond_loopback_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    let out = Command::new(bin())
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without a token"), "{err}");
}

#[test]
fn a_token_is_required_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_store(dir.path());
    let token_file = dir.path().join("token");
    std::fs::File::create(&token_file)
        .unwrap()
        .write_all(b"t0ken-123\n")
        .unwrap();
    let s = start(&db, &["--token-file", token_file.to_str().unwrap()]);
    assert_eq!(get(&format!("{}/", s.base), &[]).0, 401);
    assert_eq!(
        get(
            &format!("{}/api/alerts", s.base),
            &[("Authorization", "Bearer nope")]
        )
        .0,
        401
    );
    assert_eq!(
        get(
            &format!("{}/", s.base),
            &[("Authorization", "Bearer t0ken-123")]
        )
        .0,
        200
    );
    // A browser logs in once through the address, and gets a cookie.
    let resp = client()
        .get(format!("{}/?token=t0ken-123", s.base))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(get(&format!("{}/", s.base), &[("Cookie", pair)]).0, 200);
}

#[test]
fn queue_alert_page_and_marks_over_the_stored_hunt() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_store(dir.path());
    let s = start(&db, &[]);

    let (status, queue, csp) = get(&format!("{}/", s.base), &[]);
    assert_eq!(status, 200);
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let ids: Vec<&str> = queue
        .split("href=\"/alerts/")
        .skip(1)
        .filter_map(|t| t.split('"').next())
        .collect();
    assert!(ids.len() >= 2, "{queue}");
    // The bundled campaign's fleet-wide finding is listed too.
    assert!(queue.contains("<table id=\"campaigns\">"), "{queue}");
    // Filtering by host keeps only that host's alerts.
    let (_, only, _) = get(
        &format!("{}/?host={}", s.base, query_value(HOSTILE_HOST)),
        &[],
    );
    assert!(only.contains("<tr class=\"alert\">"), "{only}");
    assert!(
        only.matches("<tr class=\"alert\">").count()
            < queue.matches("<tr class=\"alert\">").count()
    );

    // The hostile command line is text: escaped markup, the bidi override and ESC shown as escapes.
    let hostile = ids
        .iter()
        .find(|id| {
            get(&format!("{}/alerts/{id}", s.base), &[])
                .1
                .contains("gnp.exe")
        })
        .copied()
        .unwrap();
    let (_, page, _) = get(&format!("{}/alerts/{hostile}", s.base), &[]);
    let lower = page.to_lowercase();
    assert!(
        !lower.contains("<script") && !lower.contains("<img"),
        "{page}"
    );
    // askama writes numeric character references: `<` is `&#60;`.
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{page}"
    );
    assert!(page.contains("onerror=alert(2)") && page.contains("javascript:alert(3)"));
    assert!(
        page.contains(r"\u{202e}gnp.exe") && page.contains(r"\x1b[31mRED"),
        "{page}"
    );
    assert!(!page.contains('\u{202e}') && !page.contains('\u{1b}'));
    // The evidence is located, and the playbook (rendered by the report's escaping renderer) is there.
    assert!(page.contains("/eslogger.jsonl:61"), "{page}");
    // The rate per window, against the threshold, as the report draws it.
    assert!(
        page.contains("<div id=\"chart\"><svg") && page.contains("threshold 5.0"),
        "{page}"
    );
    // The host name and the executable path are text too.
    assert!(
        !lower.contains("<svg onload") && !lower.contains("<b "),
        "{page}"
    );
    assert!(
        page.contains("&#60;svg onload=document.title=&#39;PWNED3&#39;&#62;"),
        "{page}"
    );
    assert!(
        page.contains("Containment, least disruptive first"),
        "{page}"
    );

    // Marking from the page: refused without the CSRF token, done with it, and the CLI sees it.
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_string();
    let url = format!("{}/alerts/{hostile}/mark", s.base);
    let form = [("action", "ack"), ("by", "ana"), ("reason", "known test")];
    assert_eq!(post_form(&url, &form), 403);
    let mut with = form.to_vec();
    with.push(("csrf", &csrf));
    assert_eq!(post_form(&url, &with), 303);
    let out = Command::new(bin())
        .args([
            "alerts",
            "show",
            hostile,
            "--db",
            db.to_str().unwrap(),
            "--json",
        ])
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap();
    common::assert_success(&out);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("acknowledged") && shown.contains("known test"),
        "{shown}"
    );
    // A GET never changes state.
    assert_eq!(
        get(&format!("{url}?action=fp&by=x&reason=y&csrf={csrf}"), &[]).0,
        405
    );

    // The API: the same data, and the same marks, with the token in a header.
    let (_, session, _) = get(&format!("{}/api/session", s.base), &[]);
    let session: serde_json::Value = serde_json::from_str(&session).unwrap();
    assert_eq!(session["csrf"], csrf.as_str());
    let (_, list, _) = get(&format!("{}/api/alerts?q=gnp.exe", s.base), &[]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["total"], 1, "{list}");
    let fp = |csrf: Option<&str>| {
        let mut req = client().post(format!("{}/api/alerts/{hostile}/fp", s.base));
        if let Some(c) = csrf {
            req = req.header("X-CSRF-Token", c);
        }
        req.header("Content-Type", "application/json")
            .send(r#"{"by": "bob", "reason": "lab"}"#)
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(fp(None), 403);
    assert_eq!(fp(Some(&csrf)), 200);
    let (_, one, _) = get(&format!("{}/api/alerts/{hostile}", s.base), &[]);
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["alert"]["mark"], "false_positive");
    let events: Vec<&str> = one["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["event"].as_str())
        .collect();
    assert!(
        events.contains(&"acknowledged") && events.contains(&"false_positive"),
        "{events:?}"
    );

    // A suppression from the alert's page (path and host prefilled, escaped): without the CSRF token
    // 403; with it, stored with who added it; the next hunt counts what it hides.
    let (_, page, _) = get(&format!("{}/alerts/{hostile}", s.base), &[]);
    assert!(
        page.contains(
            "name=\"path\" value=\"/tmp/&#60;b onmouseover=alert(4)&#62;x&#60;/b&#62;/bash\""
        ),
        "{page}"
    );
    let url = format!("{}/alerts/{hostile}/suppress", s.base);
    let form = [
        ("id", "build-sync"),
        ("owner", "it-ops"),
        ("reason", "CHG-1234 nightly sync"),
        ("expires", "2099-01-01"),
        ("path", HOSTILE_BASH),
        ("host", HOSTILE_HOST),
        ("by", "ana"),
    ];
    assert_eq!(post_form(&url, &form), 403);
    let mut with = form.to_vec();
    with.push(("csrf", &csrf));
    assert_eq!(post_form(&url, &with), 303);
    let copy = db.parent().unwrap().join("collection");
    let out = Command::new(bin())
        .args(["hunt", copy.to_str().unwrap(), "--db", db.to_str().unwrap()])
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap();
    common::assert_success(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("build-sync"), "{said}");
    let (_, sup, _) = get(&format!("{}/api/suppressions", s.base), &[]);
    let sup: serde_json::Value = serde_json::from_str(&sup).unwrap();
    let entry = sup["suppressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "build-sync")
        .unwrap();
    assert!(entry["hits"].as_u64().unwrap() >= 1, "{entry}");
    assert_eq!(entry["created_by"], "ana");
    let (_, page, _) = get(&format!("{}/suppressions", s.base), &[]);
    assert!(
        page.contains("build-sync") && page.contains("CHG-1234 nightly sync"),
        "{page}"
    );

    // The API adds one the same way: CSRF required, unknown keys and an unowned entry refused.
    let post_sup = |body: &str, csrf: Option<&str>| {
        let mut req = client().post(format!("{}/api/suppressions", s.base));
        if let Some(c) = csrf {
            req = req.header("X-CSRF-Token", c);
        }
        req.header("Content-Type", "application/json")
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    };
    let good = r#"{"id": "mon-pings", "owner": "noc", "reason": "CHG-7 monitoring", "expires": "2099-06-30",
                   "by": "bob", "match": {"path": "/sbin/ping", "host": "admin-*"}, "ceiling": {"packets_per_s": 20}}"#;
    assert_eq!(post_sup(good, None), 403);
    assert_eq!(post_sup(good, Some(&csrf)), 201);
    assert_eq!(
        post_sup(&good.replace("\"path\"", "\"paht\""), Some(&csrf)),
        400
    );
    assert_eq!(
        post_sup(&good.replace("\"noc\"", "\"CHANGE-ME\""), Some(&csrf)),
        400
    );
    let listed = Command::new(bin())
        .args(["suppress", "list", "--json", "--db", db.to_str().unwrap()])
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap();
    common::assert_success(&listed);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("mon-pings") && listed.contains("CHG-7 monitoring"),
        "{listed}"
    );

    // Baselines learned into the same store are listed, with their maturity, on the page and in the API.
    let out = Command::new(bin())
        .args([
            "baseline",
            "learn",
            copy.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap();
    common::assert_success(&out);
    let (_, api, _) = get(&format!("{}/api/baselines", s.base), &[]);
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    let rows = api["baselines"].as_array().unwrap();
    assert!(!rows.is_empty(), "{api}");
    assert!(
        rows.iter().all(|r| r["mature"] == false),
        "one day of data: {api}"
    );
    let (_, page, _) = get(&format!("{}/baselines", s.base), &[]);
    assert!(
        page.contains("<table id=\"baselines\">") && page.contains("immature"),
        "{page}"
    );

    // A coverage run kept with --db: its verdicts per host and attack path, hostile host name as text.
    let (_, none, _) = get(&format!("{}/coverage", s.base), &[]);
    assert!(none.contains("No coverage run is stored yet"), "{none}");
    let out = Command::new(bin())
        .args([
            "coverage",
            copy.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
        ])
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap();
    common::assert_success(&out);
    let (_, page, _) = get(&format!("{}/coverage", s.base), &[]);
    assert!(
        page.contains("<table id=\"hosts\">") && page.contains("detectable"),
        "{page}"
    );
    assert!(
        page.contains("curl loop") && !page.to_lowercase().contains("<svg onload"),
        "{page}"
    );
    let (_, api, _) = get(&format!("{}/api/coverage", s.base), &[]);
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(api["report"]["hosts"].as_array().unwrap().len(), 2, "{api}");
}
