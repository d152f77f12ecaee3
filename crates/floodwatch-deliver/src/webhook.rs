//! Webhook: each finding is POSTed as JSON to an HTTP(S) URL.
//!
//! - Headers: `Content-Type: application/json`, `X-Floodwatch-Delivery: <finding id>` (receivers
//!   drop a re-send by it), and with a secret `X-Floodwatch-Signature: sha256=<hex>`, the
//!   HMAC-SHA256 of the exact body bytes (as GitHub's `X-Hub-Signature-256`).
//! - Every finding goes through the on-disk [`Spool`] first and leaves it only when the receiver
//!   answers 2xx, so a receiver that is down, and a restart of the agent, lose nothing; order is
//!   kept (the oldest waiting finding is always sent first).
//! - Connection errors, timeouts, 408, 429 and 5xx are retried with exponential backoff; any other
//!   4xx means the receiver will never take that finding: it is counted as refused and skipped.
//! - Delivery is at least once: a crash between the receiver's 2xx and the spool file's removal
//!   sends that one finding again, with the same delivery id.

use crate::spool::Spool;
use crate::{Deliver, DeliverError, DeliverStats, Finding};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub url: String,
    /// Signs each body when set.
    pub secret: Option<String>,
    /// Per request.
    pub timeout: Duration,
    pub spool_dir: PathBuf,
    /// The spool's limit; findings beyond it are dropped and counted.
    pub spool_max_bytes: u64,
    /// First wait after a failure, doubled after each further one up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl WebhookConfig {
    pub fn new(url: impl Into<String>, spool_dir: impl Into<PathBuf>) -> Self {
        WebhookConfig {
            url: url.into(),
            secret: None,
            timeout: Duration::from_secs(10),
            spool_dir: spool_dir.into(),
            spool_max_bytes: 64 << 20,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
        }
    }
}

pub struct WebhookSink {
    cfg: WebhookConfig,
    agent: ureq::Agent,
    spool: Spool,
    next_try: Instant,
    backoff: Duration,
    stats: DeliverStats,
}

/// What one POST came to.
enum Outcome {
    Delivered,
    Retry,
    Refused,
}

impl WebhookSink {
    pub fn new(cfg: WebhookConfig) -> Result<Self, DeliverError> {
        if !(cfg.url.starts_with("http://") || cfg.url.starts_with("https://")) {
            return Err(DeliverError::Config(format!(
                "webhook url {:?} is not http:// or https://",
                cfg.url
            )));
        }
        let spool = Spool::open(&cfg.spool_dir, cfg.spool_max_bytes)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let stats = DeliverStats {
            spooled: spool.len() as u64,
            ..DeliverStats::default()
        };
        Ok(WebhookSink {
            backoff: cfg.backoff_min,
            cfg,
            agent,
            spool,
            next_try: Instant::now(),
            stats,
        })
    }

    fn post(&self, id: &str, body: &str) -> Outcome {
        let mut req = self
            .agent
            .post(&self.cfg.url)
            .header("Content-Type", "application/json")
            .header(
                "User-Agent",
                concat!("floodwatch/", env!("CARGO_PKG_VERSION")),
            )
            .header("X-Floodwatch-Delivery", id);
        if let Some(secret) = &self.cfg.secret {
            req = req.header("X-Floodwatch-Signature", signature(secret, body));
        }
        match req.send(body.as_bytes()) {
            Ok(resp) => match resp.status().as_u16() {
                200..=299 => Outcome::Delivered,
                408 | 429 | 500..=599 => Outcome::Retry,
                400..=499 => Outcome::Refused,
                _ => Outcome::Retry,
            },
            Err(_) => Outcome::Retry,
        }
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body).
pub fn signature(secret: &str, body: &str) -> String {
    // HMAC takes a key of any length: new_from_slice cannot fail here.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl Deliver for WebhookSink {
    fn deliver(&mut self, f: &Finding<'_>) -> Result<(), DeliverError> {
        if !self.spool.push(f.id, f.body)? {
            self.stats.overflowed += 1;
        }
        self.stats.spooled = self.spool.len() as u64;
        self.pump()
    }

    fn pump(&mut self) -> Result<(), DeliverError> {
        while Instant::now() >= self.next_try {
            let Some(front) = self.spool.front() else {
                break;
            };
            let (id, body) = front?;
            match self.post(&id, &body) {
                Outcome::Delivered => {
                    self.spool.pop_front()?;
                    self.stats.delivered += 1;
                    self.backoff = self.cfg.backoff_min;
                }
                Outcome::Refused => {
                    self.spool.pop_front()?;
                    self.stats.refused += 1;
                }
                Outcome::Retry => {
                    self.stats.failed_attempts += 1;
                    self.next_try = Instant::now() + self.backoff;
                    self.backoff = (self.backoff * 2).min(self.cfg.backoff_max);
                }
            }
        }
        self.stats.spooled = self.spool.len() as u64;
        Ok(())
    }

    fn stats(&self) -> DeliverStats {
        self.stats
    }
}
