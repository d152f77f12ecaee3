//! floodwatch-deliver: getting findings to the receivers a SOC already runs.
//!
//! A [`Finding`] is an already rendered finding (an OCSF Detection Finding JSON line, or an ECS
//! document) with the few facts a transport needs. Each [`Deliver`] implementation takes it to one
//! kind of receiver:
//! - [`syslog`]: RFC 5424 messages over UDP (RFC 5426), TCP with octet counting (RFC 6587) or a
//!   unix datagram socket;
//! - [`webhook`]: an HTTP(S) POST per finding, signed with HMAC-SHA256, retried with backoff, and
//!   kept in an on-disk [`spool`] while the receiver is down (bounded; what does not fit is counted).
//!
//! What each has delivered, failed, spooled and dropped is in its [`DeliverStats`], so nothing is
//! lost silently.

pub mod spool;
pub mod syslog;
pub mod webhook;

use floodwatch_core::alert::Severity;
use floodwatch_core::Ts;

/// One finding ready to send.
#[derive(Clone, Debug)]
pub struct Finding<'a> {
    /// The finding's deterministic id: receivers use it to drop re-sends.
    pub id: &'a str,
    pub time: Ts,
    /// The host the finding is about.
    pub host: &'a str,
    pub severity: Severity,
    /// What it is (`alert`, `campaign`, `network`, `health`), for the syslog MSGID.
    pub kind: &'a str,
    /// The rendered finding (one JSON document, no trailing newline).
    pub body: &'a str,
}

/// Counts a transport keeps; never reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliverStats {
    /// Findings the receiver accepted (a 2xx, or written to the socket).
    pub delivered: u64,
    /// Attempts that failed (refused, timed out, a non-2xx answer); the finding is retried.
    pub failed_attempts: u64,
    /// Findings waiting in the spool now.
    pub spooled: u64,
    /// Findings that did not fit in the spool (bounded), or that a transport without a spool
    /// could not send, and were dropped.
    pub overflowed: u64,
    /// Findings the receiver refused for good (a 4xx other than 408 and 429): not retried.
    pub refused: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
}

impl DeliverError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DeliverError::Io {
            context: context.into(),
            source,
        }
    }
}

/// A transport. `deliver` never blocks for long: a receiver that is down makes the finding wait
/// (spooled, for the webhook) and `pump` retries later.
pub trait Deliver: Send {
    fn deliver(&mut self, finding: &Finding<'_>) -> Result<(), DeliverError>;
    /// Retries what is waiting, if its backoff has passed. Called on the agent's ticks.
    fn pump(&mut self) -> Result<(), DeliverError> {
        Ok(())
    }
    fn stats(&self) -> DeliverStats;
}
