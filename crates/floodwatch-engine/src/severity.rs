//! Severity: one policy for every finding, bands over the 0-100 score. Process alerts bring the score
//! [`crate::score::score`] gives them; network findings the one [`crate::score::network_score`] gives
//! them (their strength alone: a network sensor sees no process context to add).
//!
//! Bands: 90+ critical, 70+ high, 50+ medium, 30+ low, below that informational. One floor: a process
//! alert whose command line declares a flood is at least [`DECLARED_FLOOD_MIN`] (medium) however it was
//! started; the interactive discount is for ambiguous volume, not for a tool that says it floods.

use floodwatch_core::alert::Severity;

/// Bands, most severe first: the lowest score of each.
const BANDS: [(Severity, u8); 5] = [
    (Severity::Critical, 90),
    (Severity::High, 70),
    (Severity::Medium, 50),
    (Severity::Low, 30),
    (Severity::Informational, 0),
];

/// The least severity of an alert whose command line declares a flood.
pub const DECLARED_FLOOD_MIN: Severity = Severity::Medium;

/// The severity of a score: 90+ critical, 70+ high, 50+ medium, 30+ low, below that informational.
pub fn severity(score: u8) -> Severity {
    BANDS
        .iter()
        .find(|(_, min)| score >= *min)
        .map_or(Severity::Informational, |(s, _)| *s)
}

/// The lowest score of a severity's band.
pub fn band_floor(s: Severity) -> u8 {
    BANDS
        .iter()
        .find(|(b, _)| *b == s)
        .map_or(0, |(_, min)| *min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_and_floors_agree() {
        for (score, want) in [
            (100, Severity::Critical),
            (90, Severity::Critical),
            (89, Severity::High),
            (70, Severity::High),
            (69, Severity::Medium),
            (50, Severity::Medium),
            (49, Severity::Low),
            (30, Severity::Low),
            (29, Severity::Informational),
            (0, Severity::Informational),
        ] {
            assert_eq!(severity(score), want, "{score}");
        }
        for (s, _) in BANDS {
            assert_eq!(severity(band_floor(s)), s);
        }
        assert_eq!(band_floor(DECLARED_FLOOD_MIN), 50);
    }
}
