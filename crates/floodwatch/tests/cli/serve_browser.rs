//! `floodwatch serve` in a real browser: Debian's headless Chromium driven over WebDriver
//! (`chromedriver`, spoken here as plain HTTP + JSON). `.ci/run` installs both and sets
//! FLOODWATCH_BROWSER_REQUIRED=1, so there a missing browser fails; elsewhere the test says it is
//! skipped and why.

use crate::common;

use common::serve::{bin, hostile_store, start, HOSTILE_BASH, HOSTILE_HOST};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = ureq::delete(format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn call(method: &str, url: &str, body: Option<Value>) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut resp = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, b) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(b.unwrap_or(json!({})).to_string()),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let text = resp.body_mut().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: {e}: {text}"))
}

impl Driver {
    /// chromedriver on a port the system picks (`--port=0`; it says which on stdout) and a
    /// headless Chromium session; None (with the reason) when they are not installed. Picking a
    /// free port here and handing it over could race with another test's bind.
    fn start() -> Result<Driver, String> {
        let mut child = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("chromedriver cannot start ({e}): apt-get install chromium chromium-driver")
            })?;
        // "ChromeDriver was started successfully on port 46803."
        let Some(said) = common::said_after(
            child.stdout.take().unwrap(),
            "started successfully on port ",
        ) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("chromedriver did not say it listens within 20 s".into());
        };
        let port = said.trim_end_matches('.').trim().to_string();
        let base = format!("http://127.0.0.1:{port}");
        let v = call(
            "POST",
            &format!("{base}/session"),
            Some(
                json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                    "args": ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600"]
                }}}}),
            ),
        );
        let session = v["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no browser session: {v}"))?
            .to_string();
        Ok(Driver {
            child,
            base,
            session,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    fn go(&self, to: &str) {
        call("POST", &self.url("/url"), Some(json!({ "url": to })));
    }

    fn js(&self, script: &str) -> Value {
        call(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )["value"]
            .clone()
    }

    /// Evaluates `script` until `done` holds (a submitted form's page may still be loading), for up
    /// to 10 s; returns the last value.
    fn wait_for(&self, script: &str, done: impl Fn(&Value) -> bool) -> Value {
        let t = Instant::now();
        loop {
            let v = self.js(script);
            if done(&v) || t.elapsed() > Duration::from_secs(10) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn find(&self, css: &str) -> String {
        let v = call(
            "POST",
            &self.url("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v["value"][ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        call("POST", &self.url(&format!("/element/{e}/clear")), None);
        call(
            "POST",
            &self.url(&format!("/element/{e}/value")),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        call("POST", &self.url(&format!("/element/{e}/click")), None);
    }
}

#[test]
fn triage_in_headless_chromium() {
    let required = std::env::var_os("FLOODWATCH_BROWSER_REQUIRED").is_some();
    let driver = match Driver::start() {
        Ok(d) => d,
        Err(why) if !required => {
            eprintln!("skipped: no headless browser: {why}");
            return;
        }
        Err(why) => panic!("FLOODWATCH_BROWSER_REQUIRED is set and {why}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_store(dir.path());
    let s = start(&db, &[]);

    // The queue lists the stored hunt's alerts; filtering by host keeps that host's only.
    driver.go(&format!("{}/", s.base));
    let all = driver
        .js("return document.querySelectorAll('tr.alert').length")
        .as_u64()
        .unwrap();
    assert!(all >= 2, "{all} rows");
    driver.type_into("input[name=host]", HOSTILE_HOST);
    driver.click("form button[type=submit]");
    let hosts = driver.wait_for(
        "return Array.from(document.querySelectorAll('tr.alert td:nth-child(4)')).map(t => t.textContent)",
        |v| v.as_array().is_some_and(|a| a.len() < all as usize),
    );
    let hosts: Vec<&str> = hosts
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    assert!(!hosts.is_empty() && hosts.len() < all as usize, "{hosts:?}");
    assert!(hosts.iter().all(|h| *h == HOSTILE_HOST), "{hosts:?}");

    // The hostile command line in the live DOM: text, no injected element, no script ran, and the
    // bidi override and ESC shown as escapes.
    driver.click("tr.alert a");
    driver.wait_for("return location.pathname", |v| {
        v.as_str().is_some_and(|p| p.starts_with("/alerts/"))
    });
    let dom = driver.js(
        "return {title: document.title, scripts: document.scripts.length, images: document.images.length,
                 svgs: document.querySelectorAll('svg:not(#chart svg)').length,
                 chart: document.querySelectorAll('#chart svg rect').length,
                 handlers: document.querySelectorAll('[onload],[onerror],[onmouseover],[onclick]').length,
                 cmd: document.getElementById('cmdline').textContent,
                 host: document.getElementById('host').textContent,
                 subject: document.getElementById('subject').textContent, url: location.pathname}",
    );
    assert!(
        dom["title"]
            .as_str()
            .unwrap()
            .starts_with("floodwatch: alert"),
        "{dom}"
    );
    assert_eq!(dom["scripts"], 0, "{dom}");
    assert_eq!(dom["images"], 0, "{dom}");
    // The only SVG is the server's rate chart (one bar per window); no element carries a handler.
    assert_eq!(dom["svgs"], 0, "{dom}");
    assert!(dom["chart"].as_u64().unwrap() >= 1, "{dom}");
    assert_eq!(dom["handlers"], 0, "{dom}");
    // The playbook's own <b> labels are the page's; none comes from the hostile path.
    assert_eq!(dom["host"], HOSTILE_HOST, "{dom}");
    assert_eq!(dom["subject"], HOSTILE_BASH, "{dom}");
    let bolds = driver.js(
        "return Array.from(document.querySelectorAll('b')).filter(b => b.hasAttribute('onmouseover')).length",
    );
    assert_eq!(bolds, 0, "{dom}");
    let cmd = dom["cmd"].as_str().unwrap();
    assert!(
        cmd.contains("<script>document.title='PWNED'</script>"),
        "{cmd}"
    );
    assert!(cmd.contains("<img src=x onerror=alert(2)>"), "{cmd}");
    assert!(
        cmd.contains(r"\u{202e}gnp.exe") && cmd.contains(r"\x1b[31mRED"),
        "{cmd}"
    );
    let alert_path = dom["url"].as_str().unwrap().to_string();
    let shot = call("GET", &driver.url("/screenshot"), None)["value"]
        .as_str()
        .unwrap()
        .to_string();
    // A PNG (base64 of its signature), kept next to the build for a person to look at.
    assert!(
        shot.starts_with("iVBORw0KGgo") && shot.len() > 10_000,
        "{}",
        shot.len()
    );
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-hostile-alert.png.b64");
    std::fs::write(&out, &shot).unwrap();

    // Acknowledge in the page: the state changes in the page, in the store and for the CLI.
    driver.type_into("form.inline input[name=by]", "ana");
    driver.type_into("form.inline input[name=reason]", "known sync job");
    driver.click("form.inline button");
    let state = driver.wait_for("return document.getElementById('state').textContent", |v| {
        v.as_str().is_some_and(|s| s.contains("acknowledged"))
    });
    assert!(
        state.as_str().unwrap().contains("by ana: known sync job"),
        "{state}"
    );
    let id = alert_path.trim_start_matches("/alerts/");
    let listed = Command::new(bin())
        .args(["alerts", "list", "--json", "--db", db.to_str().unwrap()])
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap();
    assert_eq!(row["mark"], "acknowledged", "{row}");

    // A suppression made in the page hides the next run's matching alert, and counts it.
    driver.go(&format!("{}{alert_path}", s.base));
    for (name, value) in [
        ("id", "nightly-sync"),
        ("owner", "it-ops"),
        ("reason", "CHG-42 nightly sync"),
        ("expires", "2099-12-31"),
        ("by", "ana"),
    ] {
        driver.type_into(&format!("#suppress input[name={name}]"), value);
    }
    driver.click("#suppress button");
    let rows = driver.wait_for(
        "return document.querySelectorAll('#suppressions tbody tr').length",
        |v| v == 1,
    );
    assert_eq!(rows, 1, "{rows}");
    let copy = db.parent().unwrap().join("collection");
    let rerun = Command::new(bin())
        .args(["hunt", copy.to_str().unwrap(), "--db", db.to_str().unwrap()])
        .env_remove("FLOODWATCH_CONFIG")
        .output()
        .unwrap();
    common::assert_success(&rerun);
    driver.go(&format!("{}/suppressions", s.base));
    let hits = driver
        .js("return document.querySelector('#suppressions tbody tr td:nth-child(7)').textContent");
    assert!(
        hits.as_str().unwrap().parse::<u64>().unwrap() >= 1,
        "{hits}"
    );
    // The re-run's own report says the alert was hidden, and by which suppression.
    let said = String::from_utf8_lossy(&rerun.stdout).to_string()
        + &String::from_utf8_lossy(&rerun.stderr);
    assert!(said.contains("nightly-sync"), "{said}");
}
