//! `floodwatch serve` test helpers: a store holding a hostile command line, executable path and host
//! name, the real binary serving it on loopback, and a small HTTP client.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// What replaces the script path in the collection's eslogger lines (JSON-escaped there).
pub const HOSTILE_JSON: &str = r#"\/Library\/Scripts\/.sync.sh\"><script>alert(1)<\/script><img src=x onerror=alert(2)> javascript:alert(3) \u202egnp.exe \u001b[31mRED <script>document.title='PWNED'<\/script>"#;

/// The alerting host's folder name, and so its host name: markup an attacker could give a Mac.
pub const HOSTILE_HOST: &str = r#"build-mac-07"><svg onload=document.title='PWNED3'>"#;

/// What replaces `/bin/bash` (the alert's subject) on that host (JSON-escaped there).
pub const HOSTILE_BASH_JSON: &str = r#"\/tmp\/<b onmouseover=alert(4)>x<\/b>\/bash"#;
/// The same path, as the alert shows it.
pub const HOSTILE_BASH: &str = "/tmp/<b onmouseover=alert(4)>x</b>/bash";

/// Percent-encodes `s` for a query string.
pub fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("floodwatch")
}

/// The collection, its eslogger lines carrying the hostile command line, hunted into a store.
pub fn hostile_store(dir: &Path) -> PathBuf {
    let src = super::collection();
    let copy = dir.join("collection");
    for host in std::fs::read_dir(&src).unwrap() {
        let host = host.unwrap().path();
        if !host.is_dir() {
            continue;
        }
        let name = host.file_name().unwrap().to_string_lossy().into_owned();
        let hostile = name == "build-mac-07";
        let to = copy.join(if hostile { HOSTILE_HOST } else { &name });
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&host).unwrap() {
            let f = f.unwrap().path();
            let mut data = std::fs::read(&f).unwrap();
            if f.file_name().unwrap() == "eslogger.jsonl" {
                let text = String::from_utf8(data).unwrap();
                let mut text = text.replace(r"\/Library\/Scripts\/.sync.sh", HOSTILE_JSON);
                if hostile {
                    text = text.replace(r"\/bin\/bash", HOSTILE_BASH_JSON);
                }
                data = text.into_bytes();
            }
            std::fs::write(to.join(f.file_name().unwrap()), data).unwrap();
        }
    }
    let db = dir.join("store.db");
    // The bundled campaign (five Macs) too, so the queue spans hosts.
    let campaign = super::repo_root().join("examples/campaign");
    for path in [copy.as_path(), campaign.as_path()] {
        let out = Command::new(bin())
            .args(["hunt", path.to_str().unwrap(), "--db", db.to_str().unwrap()])
            .env_remove("FLOODWATCH_CONFIG")
            .output()
            .unwrap();
        super::assert_success(&out);
    }
    db
}

pub struct Server {
    child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on a port the system picks (`--listen 127.0.0.1:0`) and reads the address it
/// says it bound from its stderr. Picking a free port here and handing it over raced with the other
/// tests: between this probe's release and the server's bind, another test's probe could take the
/// same port, the server then failed to bind, and the readiness check connected to that probe.
pub fn start(db: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env_remove("FLOODWATCH_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It says so once its listener is bound: connections are taken from then on.
    let said = super::said_after(child.stderr.take().unwrap(), "floodwatch serve: http://")
        .expect("serve did not start: it did not say where it listens");
    let listen = said.split(' ').next().unwrap_or_default().to_string();
    Server {
        child,
        base: format!("http://{listen}"),
    }
}

pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// (status, body, content-security-policy) of a GET.
pub fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
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

pub fn post_form(url: &str, form: &[(&str, &str)]) -> u16 {
    client()
        .post(url)
        .send_form(form.iter().copied())
        .unwrap()
        .status()
        .as_u16()
}
