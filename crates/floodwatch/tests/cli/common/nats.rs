//! A real `nats-server` (Debian's package) for the fleet tests: JetStream on, the fleet's partition
//! mapping from `floodwatch fleet server-config`, on a loopback port it picks itself (`-p -1`; then
//! the same one on every restart) with a temporary store,
//! stopped (and started again) at will and killed at the end. Without a server the tests fail in
//! CI (`.ci/run` installs it and sets FLOODWATCH_NATS_REQUIRED=1) and are skipped, with the reason,
//! elsewhere.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Nats {
    child: Option<Child>,
    server: PathBuf,
    conf: PathBuf,
    /// The client port, once the first start has picked it (0 before).
    port: u16,
    pub url: String,
    /// The store folder and config (removed at the end).
    pub dir: tempfile::TempDir,
}

/// The nats-server to run: FLOODWATCH_NATS_SERVER, else `nats-server` on the PATH or in the
/// folders Debian and a manual install use.
fn find_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLOODWATCH_NATS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/bin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

fn required() -> bool {
    std::env::var_os("FLOODWATCH_NATS_REQUIRED").is_some_and(|v| !v.is_empty() && v != "0")
}

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("floodwatch")
}

/// `floodwatch ARGS` (no config from the environment); stdout and stderr, and the exit status.
pub fn fw(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("FLOODWATCH_CONFIG")
        .env_remove("FLOODWATCH_NATS")
        .output()
        .unwrap()
}

/// [`fw`] that must succeed: its stderr.
pub fn fw_ok(args: &[&str]) -> String {
    let out = fw(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "floodwatch {args:?}: {err}");
    err
}

impl Nats {
    /// A server for a fleet of `partitions`, or None (the test is skipped) when there is no
    /// nats-server here and it is not required.
    pub fn start(partitions: u32, test: &str) -> Option<Nats> {
        let Some(server) = find_server() else {
            let why = "no nats-server (apt-get install nats-server, or set FLOODWATCH_NATS_SERVER)";
            if required() {
                panic!("FLOODWATCH_NATS_REQUIRED is set and there is {why}");
            }
            eprintln!("{test}: skipped: {why}");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("js");
        // The port is the server's own pick (`-p -1` on the first start, see `run`): a free port
        // found here and handed over could be taken by another test's bind in between.
        let out = fw(&[
            "fleet",
            "server-config",
            "--partitions",
            &partitions.to_string(),
            "--listen",
            "127.0.0.1:4222",
            "--store-dir",
            store.to_str().unwrap(),
        ]);
        assert!(out.status.success());
        let conf = dir.path().join("nats.conf");
        std::fs::write(&conf, &out.stdout).unwrap();
        let mut n = Nats {
            child: None,
            server,
            conf,
            port: 0,
            url: String::new(),
            dir,
        };
        n.run();
        Some(n)
    }

    /// Starts the server (again) on the same port and store, and waits until it takes clients.
    /// The first start lets the server pick the port (`-p -1`, over the config's) and reads it from
    /// the ports file the server writes (`--ports_file_dir`); later starts ask for that port.
    pub fn run(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("nats.log"))
            .unwrap();
        let port = if self.port == 0 {
            "-1".to_string()
        } else {
            self.port.to_string()
        };
        let child = Command::new(&self.server)
            .arg("-c")
            .arg(&self.conf)
            .args(["-p", &port, "--ports_file_dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => panic!("starting {}: {e}", self.server.display()),
        };
        let ports = self
            .dir
            .path()
            .join(format!("nats-server_{}.ports", child.id()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        // {"nats":["nats://127.0.0.1:35635"]}, written once the client port is bound.
        let said = loop {
            if let Some(url) = std::fs::read_to_string(&ports).ok().and_then(|t| {
                let v: serde_json::Value = serde_json::from_str(&t).ok()?;
                Some(v["nats"][0].as_str()?.to_string())
            }) {
                break url;
            }
            self.exited_at_start();
            assert!(
                Instant::now() < deadline,
                "nats-server did not write {}: {}",
                ports.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let bound: u16 = said
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("nats-server's ports file says {said:?}"));
        if self.port == 0 {
            self.port = bound;
            self.url = format!("nats://127.0.0.1:{bound}");
        }
        assert_eq!(bound, self.port, "nats-server restarted on another port");
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            self.exited_at_start();
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fails the test with the server's log if it has exited (a port taken, a bad config).
    fn exited_at_start(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("nats-server exited at start ({status}): {}", self.log());
            }
        }
    }

    /// Stops the server (SIGTERM: JetStream's files are closed cleanly) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: a signal to our own child process.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }

    /// `fleet setup` with this many partitions and leases of `lease`.
    pub fn setup(&self, partitions: u32, lease: &str) {
        fw_ok(&[
            "fleet",
            "setup",
            "--nats",
            &self.url,
            "--partitions",
            &partitions.to_string(),
            "--lease-ttl",
            lease,
        ]);
    }

    /// `fleet status --json`.
    pub fn status(&self) -> serde_json::Value {
        let out = fw(&["fleet", "status", "--nats", &self.url, "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits until every partition is checkpointed up to its last event.
    pub fn wait_caught_up(&self, within: Duration) {
        if let Err(s) = self.caught_up_within(within) {
            panic!("not caught up: {s:#}");
        }
    }

    /// Waits until every partition is checkpointed up to its last event; the last status if not.
    pub fn caught_up_within(&self, within: Duration) -> Result<(), serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let s = self.status();
            if s["caught_up"] == true {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(s);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A child process killed (SIGKILL) when dropped: a test that fails leaves no worker behind.
pub struct Proc(pub Child);

impl Proc {
    pub fn spawn(args: &[&str], log: &std::path::Path) -> Proc {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        Proc(
            Command::new(bin())
                .args(args)
                .env_remove("FLOODWATCH_CONFIG")
                .env_remove("FLOODWATCH_NATS")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: a signal to our own child process.
        unsafe {
            libc::kill(self.0.id() as libc::pid_t, sig);
        }
    }

    /// Waits for the process to end (at most `within`), returning its exit code.
    pub fn wait(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s.code();
            }
            assert!(Instant::now() < deadline, "the process did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
