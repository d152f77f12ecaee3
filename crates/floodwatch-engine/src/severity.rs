//! Severity: one policy for every finding, bands over the 0-100 score. Process alerts bring the score
//! [`crate::score::score`] gives them; network findings the one [`crate::score::network_score`] gives
//! them (their strength alone: a network sensor sees no process context to add).

use floodwatch_core::alert::Severity;

/// The severity of a score: 90+ critical, 70+ high, 50+ medium, 30+ low, below that informational.
pub fn severity(score: u8) -> Severity {
    match score {
        90..=100 => Severity::Critical,
        70..=89 => Severity::High,
        50..=69 => Severity::Medium,
        30..=49 => Severity::Low,
        _ => Severity::Informational,
    }
}
