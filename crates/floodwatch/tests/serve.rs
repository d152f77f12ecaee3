//! `floodwatch serve` as a user runs it: a store written by `hunt --db` (the bundled collection,
//! with one command line rewritten to hold script tags, an event handler, a `javascript:` URL, a
//! bidi override and an ANSI escape), the real binary listening on loopback, and HTTP requests.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What replaces the script path in the collection's eslogger lines (JSON-escaped there).
const HOSTILE_JSON: &str = r#"\/Library\/Scripts\/.sync.sh\"><script>alert(1)<\/script><img src=x onerror=alert(2)> javascript:alert(3) \u202egnp.exe \u001b[31mRED"#;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("floodwatch")
}

/// The collection, its eslogger lines carrying the hostile command line, hunted into a store.
fn hostile_store(dir: &Path) -> PathBuf {
    let src = common::collection();
    let copy = dir.join("collection");
    for host in std::fs::read_dir(&src).unwrap() {
        let host = host.unwrap().path();
        if !host.is_dir() {
            continue;
        }
        let to = copy.join(host.file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&host).unwrap() {
            let f = f.unwrap().path();
            let mut data = std::fs::read(&f).unwrap();
            if f.file_name().unwrap() == "eslogger.jsonl" {
                let text = String::from_utf8(data).unwrap();
                data = text
                    .replace(r"\/Library\/Scripts\/.sync.sh", HOSTILE_JSON)
                    .into_bytes();
            }
            std::fs::write(to.join(f.file_name().unwrap()), data).unwrap();
        }
    }
    let db = dir.join("store.db");
    // The bundled campaign (five Macs) too, so the queue spans hosts.
    let campaign = common::repo_root().join("examples/campaign");
    for path in [copy.as_path(), campaign.as_path()] {
        let out = Command::new(bin())
            .args(["hunt", path.to_str().unwrap(), "--db", db.to_str().unwrap()])
            .env_remove("FLOODWATCH_CONFIG")
            .output()
            .unwrap();
        common::assert_success(&out);
    }
    db
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &Path, extra: &[&str]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(bin())
        .args(["serve", "--db", db.to_str().unwrap(), "--listen", &listen])
        .args(extra)
        .env_remove("FLOODWATCH_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        base: format!("http://{listen}"),
    }
}

fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// (status, body, content-security-policy) of a GET.
fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = client().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.call().unwrap();
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap(), csp)
}

fn post_form(url: &str, form: &[(&str, &str)]) -> u16 {
    client()
        .post(url)
        .send_form(form.iter().copied())
        .unwrap()
        .status()
        .as_u16()
}

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
    // Filtering by host keeps only that host's alerts.
    let (_, only, _) = get(&format!("{}/?host=build-mac-07", s.base), &[]);
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
    assert!(page.contains("build-mac-07/eslogger.jsonl:"), "{page}");
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
}
