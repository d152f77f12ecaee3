//! The suppressions file (documented automation: owner, reason, expiry, match fields, optional rate
//! ceiling) read for export. Only what a SIEM filter can say exactly becomes a filter: an entry
//! with a ceiling suppresses the engine's alert only while the episode stays below a rate, which a
//! filter on single events cannot express, so such entries are listed as kept out, never turned into
//! a filter that would hide a flood above the ceiling.

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct RawFile {
    #[serde(default)]
    suppression: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
struct RawEntry {
    id: Option<String>,
    owner: Option<String>,
    reason: Option<String>,
    expires: Option<String>,
    revoked: Option<String>,
    #[serde(rename = "match")]
    matcher: Option<RawMatch>,
    ceiling: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
struct RawMatch {
    signing_id: Option<String>,
    team_id: Option<String>,
    path: Option<String>,
    argv: Option<String>,
    parent: Option<String>,
    user: Option<String>,
    host: Option<String>,
    destination: Option<String>,
}

/// One suppression as export sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SuppressionEntry {
    pub id: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
    /// Glob on the subject's executable path.
    pub path: Option<String>,
    /// Glob on the parent's executable path.
    pub parent: Option<String>,
    /// Regex on the whole command line (anchored at both ends).
    pub argv: Option<String>,
    /// User name, uid or "root".
    pub user: Option<String>,
    /// Glob on the host name.
    pub host: Option<String>,
    /// Match fields a process-creation event does not carry (signing_id, team_id, destination).
    pub unsupported: Vec<String>,
    /// The ceiling's rates, as written (`spawns_per_s = 1`), when it has one.
    pub ceiling: Option<String>,
}

impl SuppressionEntry {
    /// Why it cannot be a filter, when it cannot.
    pub fn kept_out(&self) -> Option<String> {
        if let Some(c) = &self.ceiling {
            return Some(format!(
                "{}: a ceiling ({c}) suppresses only below a rate, which a per-event filter cannot say",
                self.id
            ));
        }
        if !self.unsupported.is_empty() {
            return Some(format!(
                "{}: matches on {}, which process-creation events do not carry",
                self.id,
                self.unsupported.join(", ")
            ));
        }
        if self.path.is_none()
            && self.parent.is_none()
            && self.argv.is_none()
            && self.user.is_none()
            && self.host.is_none()
        {
            return Some(format!("{}: no match field", self.id));
        }
        None
    }
}

/// Reads a suppressions file. Revoked entries and entries without an id are left out (the engine
/// skips them too); a file that is not TOML is an error naming it.
pub fn load(path: &Path) -> Result<Vec<SuppressionEntry>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Vec<SuppressionEntry>, String> {
    let raw: RawFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let mut out = Vec::new();
    for r in raw.suppression {
        let (Some(id), None) = (r.id, r.revoked.as_ref()) else {
            continue;
        };
        let m = r.matcher.unwrap_or_default();
        let mut unsupported = Vec::new();
        for (name, v) in [
            ("signing_id", &m.signing_id),
            ("team_id", &m.team_id),
            ("destination", &m.destination),
        ] {
            if v.is_some() {
                unsupported.push(name.to_string());
            }
        }
        let ceiling = r.ceiling.filter(|c| !c.is_empty()).map(|c| {
            c.iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        });
        out.push(SuppressionEntry {
            id,
            owner: r.owner.unwrap_or_default(),
            reason: r.reason.unwrap_or_default(),
            expires: r.expires.unwrap_or_default(),
            path: m.path,
            parent: m.parent,
            argv: m.argv,
            user: m.user,
            host: m.host,
            unsupported,
            ceiling,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_a_ceiling_are_kept_out() {
        let s = parse(
            r#"
[[suppression]]
id = "SUP-1"
owner = "o"
reason = "r"
expires = "2027-01-01"
match = { path = "/opt/agent/*", user = "root" }
ceiling = { spawns_per_s = 1.0 }

[[suppression]]
id = "SUP-2"
owner = "o"
reason = "r"
expires = "2027-01-01"
match = { parent = "/Library/Acme/*" }

[[suppression]]
id = "SUP-3"
owner = "o"
reason = "r"
expires = "2027-01-01"
revoked = "2026-01-01T00:00:00Z"
match = { parent = "/x" }
"#,
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].kept_out().unwrap().contains("spawns_per_s = 1.0"));
        assert_eq!(s[1].kept_out(), None);
    }
}
