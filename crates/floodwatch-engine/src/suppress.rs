//! Suppressions: documented automation, each with an owner, a reason and an expiry, matched on evidence
//! (signing id, team id, path, argv, parent, user, host, destination), optionally only below a rate ceiling.
//!
//! A suppressed detection is still reported (marked, counted per suppression). An expired suppression stops
//! applying to events after its expiry and the alert says which one it would have been; a malformed entry is
//! skipped with a warning naming it. Expiry is judged in event time so re-runs stay deterministic.

use floodwatch_core::alert::SuppressionHit;
use floodwatch_core::time::{parse_date, parse_rfc3339, NANOS_PER_DAY};
use floodwatch_core::{Error, Result, Ts};
use globset::{Glob, GlobMatcher};
use regex::Regex;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    suppression: Vec<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuppression {
    id: Option<String>,
    reason: Option<String>,
    owner: Option<String>,
    expires: Option<String>,
    /// Set by `suppress expire`: ended early, applies to nothing any more (whatever the event time).
    revoked: Option<String>,
    #[serde(rename = "match")]
    matcher: Option<RawMatch>,
    ceiling: Option<Ceiling>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// Suppress only while every given rate stays below its ceiling (per second, over a window).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ceiling {
    pub spawns_per_s: Option<f64>,
    pub packets_per_s: Option<f64>,
    pub bytes_per_s: Option<f64>,
    pub connections_per_s: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct Suppression {
    pub id: String,
    pub reason: String,
    pub owner: String,
    pub expires: Ts,
    pub expires_text: String,
    pub revoked: Option<String>,
    signing_id: Option<String>,
    team_id: Option<String>,
    path: Option<GlobMatcher>,
    argv: Option<Regex>,
    parent: Option<GlobMatcher>,
    user: Option<String>,
    host: Option<GlobMatcher>,
    destination: Option<GlobMatcher>,
    pub ceiling: Option<Ceiling>,
}

/// What a subject offers to be matched on.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    pub host: &'a str,
    pub paths: Vec<&'a str>,
    pub cmdlines: Vec<String>,
    pub signing_ids: Vec<&'a str>,
    pub team_ids: Vec<&'a str>,
    pub parents: Vec<&'a str>,
    pub users: Vec<String>,
    pub destinations: Vec<&'a str>,
}

/// Peak rates of the episode, compared with a ceiling.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rates {
    pub spawns_per_s: f64,
    pub packets_per_s: f64,
    pub bytes_per_s: f64,
    pub connections_per_s: f64,
}

pub enum Verdict<'a> {
    Suppressed(&'a Suppression),
    /// Matched but did not apply: the note says why.
    NotApplied(String),
}

fn glob(s: &str, field: &str) -> std::result::Result<GlobMatcher, String> {
    Glob::new(s)
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("match.{field}: bad glob {s:?}: {e}"))
}

/// An `expires` value as an instant: a bare date ends at the end of that day (UTC).
pub fn parse_expiry(s: &str) -> Option<Ts> {
    parse_date(s)
        .map(|d| Ts(d.0 + NANOS_PER_DAY - 1))
        .or_else(|| parse_rfc3339(s))
}

fn build(raw: RawSuppression, index: usize) -> std::result::Result<Suppression, String> {
    let id = raw
        .id
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("entry #{index}: missing id"))?;
    let need = |v: Option<String>, what: &str| {
        v.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            format!(
                "{id}: missing {what} (every suppression needs an owner, a reason and an expiry)"
            )
        })
    };
    let reason = need(raw.reason, "reason")?;
    let owner = need(raw.owner, "owner")?;
    let expires_text = need(raw.expires, "expires")?;
    let expires = parse_expiry(&expires_text).ok_or_else(|| {
        format!("{id}: expires {expires_text:?} is not a date (YYYY-MM-DD) or RFC 3339 time")
    })?;
    let m = raw.matcher.unwrap_or_default();
    let err = |e: String| format!("{id}: {e}");
    let s = Suppression {
        signing_id: m.signing_id,
        team_id: m.team_id,
        path: m
            .path
            .as_deref()
            .map(|p| glob(p, "path"))
            .transpose()
            .map_err(err)?,
        argv: m
            .argv
            .as_deref()
            // Anchored: the pattern must match the whole command line, so an attacker cannot be
            // suppressed by adding an allowed string to an argument.
            .map(|r| {
                Regex::new(&format!("^(?:{r})$")).map_err(|e| format!("match.argv: bad regex: {e}"))
            })
            .transpose()
            .map_err(err)?,
        parent: m
            .parent
            .as_deref()
            .map(|p| glob(p, "parent"))
            .transpose()
            .map_err(err)?,
        user: m.user,
        host: m
            .host
            .as_deref()
            .map(|p| glob(p, "host"))
            .transpose()
            .map_err(err)?,
        destination: m
            .destination
            .as_deref()
            .map(|p| glob(p, "destination"))
            .transpose()
            .map_err(err)?,
        ceiling: raw.ceiling,
        revoked: raw.revoked,
        id,
        reason,
        owner,
        expires,
        expires_text,
    };
    if s.signing_id.is_none()
        && s.team_id.is_none()
        && s.path.is_none()
        && s.argv.is_none()
        && s.parent.is_none()
        && s.user.is_none()
        && s.host.is_none()
        && s.destination.is_none()
    {
        return Err(format!(
            "{}: no match fields: a suppression must say what it matches",
            s.id
        ));
    }
    Ok(s)
}

/// Clone: the fleet worker gives each host's engine its own copy.
#[derive(Clone, Debug, Default)]
pub struct Suppressions {
    pub list: Vec<Suppression>,
    /// Malformed entries (skipped) and entries already expired at load time.
    pub warnings: Vec<String>,
}

impl Suppressions {
    /// A file that is not valid TOML is an error (the user asked for it); a bad entry is a warning.
    pub fn load(path: &Path, now: Ts) -> Result<Suppressions> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading suppressions {}", path.display()), e))?;
        Self::parse(&text, path, now)
    }

    pub fn parse(text: &str, path: &Path, now: Ts) -> Result<Suppressions> {
        let raw: RawFile = toml::from_str(text).map_err(|e| Error::Suppressions {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut out = Suppressions::default();
        for (i, v) in raw.suppression.into_iter().enumerate() {
            let entry = v
                .try_into::<RawSuppression>()
                .map_err(|e| format!("entry #{}: {}", i + 1, e.to_string().trim()))
                .and_then(|r| build(r, i + 1));
            match entry {
                Ok(s) => {
                    if let Some(r) = &s.revoked {
                        out.warnings.push(format!(
                            "suppression {} (owner {}) was ended {r} (suppress expire): it no longer applies",
                            s.id, s.owner
                        ));
                    } else if s.expires < now {
                        out.warnings.push(format!(
                            "suppression {} (owner {}) expired {}: it no longer applies to events after that; renew or remove it",
                            s.id, s.owner, s.expires_text
                        ));
                    }
                    if out.list.iter().any(|o| o.id == s.id) {
                        out.warnings.push(format!(
                            "suppression id {} is used twice; both entries apply",
                            s.id
                        ));
                    }
                    out.list.push(s);
                }
                Err(e) => out.warnings.push(format!("suppression {e}: entry skipped")),
            }
        }
        Ok(out)
    }

    /// The first suppression that matches and applies; otherwise notes about ones that matched but did not.
    pub fn judge(
        &self,
        facts: &Facts,
        rates: &Rates,
        at: Ts,
    ) -> (Option<&Suppression>, Vec<String>) {
        let mut notes = Vec::new();
        for s in &self.list {
            if !s.matches(facts) {
                continue;
            }
            match s.verdict(rates, at) {
                Verdict::Suppressed(s) => return (Some(s), notes),
                Verdict::NotApplied(n) => notes.push(n),
            }
        }
        (None, notes)
    }
}

/// One suppressions-file entry, validated, with its own `[[suppression]]` text (how the store keeps it).
#[derive(Clone, Debug)]
pub struct CheckedEntry {
    pub id: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
    pub expires_at: Ts,
    pub entry: String,
}

/// Validates every entry of a suppressions text; unlike [`Suppressions::parse`], one bad entry is an
/// error (for `suppress add`, where the user is there to fix it).
pub fn check_entries(text: &str, path: &Path) -> Result<Vec<CheckedEntry>> {
    let bad = |message: String| Error::Suppressions {
        path: path.to_path_buf(),
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for (i, v) in raw.suppression.into_iter().enumerate() {
        let r: RawSuppression = v.clone().try_into().map_err(|e: toml::de::Error| {
            bad(format!("entry #{}: {}", i + 1, e.to_string().trim()))
        })?;
        let s = build(r, i + 1).map_err(bad)?;
        let mut t = toml::Table::new();
        t.insert("suppression".into(), toml::Value::Array(vec![v]));
        let entry = toml::to_string(&t).map_err(|e| bad(e.to_string()))?;
        out.push(CheckedEntry {
            id: s.id,
            owner: s.owner,
            reason: s.reason,
            expires: s.expires_text,
            expires_at: s.expires,
            entry,
        });
    }
    Ok(out)
}

/// One suppression as a person gives it (the CLI's flags, the web form): the documentation, what
/// it matches (`signing_id`, `team_id`, `path`, `argv`, `parent`, `user`, `host`, `destination`) and
/// its optional ceilings (`spawns_per_s`, `packets_per_s`, `bytes_per_s`, `connections_per_s`).
#[derive(Clone, Debug, Default)]
pub struct EntryFields {
    pub id: Option<String>,
    pub owner: Option<String>,
    pub reason: Option<String>,
    pub expires: Option<String>,
    pub matches: Vec<(&'static str, String)>,
    pub ceilings: Vec<(&'static str, f64)>,
}

/// The `[[suppression]]` text of `f`, for [`check_entries`] to validate.
pub fn entry_toml(f: &EntryFields) -> std::result::Result<String, String> {
    use toml::Value;
    let mut e = toml::Table::new();
    for (k, v) in [
        ("id", &f.id),
        ("owner", &f.owner),
        ("reason", &f.reason),
        ("expires", &f.expires),
    ] {
        if let Some(v) = v {
            e.insert(k.into(), Value::String(v.clone()));
        }
    }
    let m: toml::Table = f
        .matches
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect();
    e.insert("match".into(), Value::Table(m));
    let c: toml::Table = f
        .ceilings
        .iter()
        .map(|(k, v)| (k.to_string(), Value::Float(*v)))
        .collect();
    if !c.is_empty() {
        e.insert("ceiling".into(), Value::Table(c));
    }
    let mut t = toml::Table::new();
    t.insert("suppression".into(), Value::Array(vec![Value::Table(e)]));
    toml::to_string(&t).map_err(|x| x.to_string())
}

/// A suggestion is not a decision until someone owns it (`tune suggest` writes CHANGE-ME), and an
/// entry that has already expired would never apply: both are refused before they are stored.
pub fn refuse_unowned(entries: &[CheckedEntry], now: Ts) -> std::result::Result<(), String> {
    for e in entries {
        if e.owner.contains("CHANGE-ME") || e.reason.contains("CHANGE-ME") {
            return Err(format!(
                "suppression {} still has a CHANGE-ME owner or reason; a reviewer must own it",
                e.id
            ));
        }
        if e.expires_at < now {
            return Err(format!(
                "suppression {} expires {}, which is already past",
                e.id, e.expires
            ));
        }
    }
    Ok(())
}

/// The same entry, ended at `when` (for `suppress expire`): it stops applying to any event.
pub fn revoked(entry: &str, when: &str) -> std::result::Result<String, String> {
    let mut t: toml::Table = toml::from_str(entry).map_err(|e| e.to_string())?;
    let Some(toml::Value::Array(list)) = t.get_mut("suppression") else {
        return Err("stored entry has no [[suppression]]".into());
    };
    for v in list.iter_mut() {
        if let toml::Value::Table(e) = v {
            e.insert("revoked".into(), toml::Value::String(when.into()));
        }
    }
    toml::to_string(&t).map_err(|e| e.to_string())
}

/// The stored entry given a new expiry, with any early end (`revoked`) lifted: `suppress renew`.
pub fn renewed(entry: &str, expires: &str) -> std::result::Result<String, String> {
    let mut t: toml::Table = toml::from_str(entry).map_err(|e| e.to_string())?;
    let Some(toml::Value::Array(list)) = t.get_mut("suppression") else {
        return Err("stored entry has no [[suppression]]".into());
    };
    for v in list.iter_mut() {
        if let toml::Value::Table(e) = v {
            e.remove("revoked");
            e.insert("expires".into(), toml::Value::String(expires.into()));
        }
    }
    toml::to_string(&t).map_err(|e| e.to_string())
}

impl Suppressions {
    /// Adds another source's suppressions (the store's after the file's).
    pub fn extend(&mut self, other: Suppressions) {
        for s in &other.list {
            if self.list.iter().any(|o| o.id == s.id) {
                self.warnings.push(format!(
                    "suppression id {} is in both the suppressions file and the store; both apply",
                    s.id
                ));
            }
        }
        self.list.extend(other.list);
        self.warnings.extend(other.warnings);
    }
}

impl Suppression {
    pub fn hit(&self) -> SuppressionHit {
        SuppressionHit {
            id: self.id.clone(),
            owner: self.owner.clone(),
            reason: self.reason.clone(),
            expires: self.expires_text.clone(),
        }
    }

    pub fn matches(&self, f: &Facts) -> bool {
        let eq_any = |want: &Option<String>, have: &[&str]| {
            want.as_ref().is_none_or(|w| have.iter().any(|h| h == w))
        };
        let glob_any = |g: &Option<GlobMatcher>, have: &[&str]| {
            g.as_ref()
                .is_none_or(|g| have.iter().any(|h| g.is_match(h)))
        };
        eq_any(&self.signing_id, &f.signing_ids)
            && eq_any(&self.team_id, &f.team_ids)
            && glob_any(&self.path, &f.paths)
            && self
                .argv
                .as_ref()
                .is_none_or(|r| f.cmdlines.iter().any(|c| r.is_match(c)))
            && glob_any(&self.parent, &f.parents)
            && self
                .user
                .as_ref()
                .is_none_or(|u| f.users.iter().any(|h| h == u))
            && self.host.as_ref().is_none_or(|g| g.is_match(f.host))
            // Every destination must be allowed: touching one allowed address is not enough.
            && self.destination.as_ref().is_none_or(|g| {
                !f.destinations.is_empty() && f.destinations.iter().all(|d| g.is_match(d))
            })
    }

    fn verdict(&self, r: &Rates, at: Ts) -> Verdict<'_> {
        if let Some(when) = &self.revoked {
            return Verdict::NotApplied(format!(
                "suppression {} (owner {}) matched but expired {when} (ended by suppress expire)",
                self.id, self.owner
            ));
        }
        if at > self.expires {
            return Verdict::NotApplied(format!(
                "suppression {} (owner {}) matched but expired {}",
                self.id, self.owner, self.expires_text
            ));
        }
        if let Some(c) = &self.ceiling {
            for (name, have, max) in [
                ("spawns/s", r.spawns_per_s, c.spawns_per_s),
                ("packets/s", r.packets_per_s, c.packets_per_s),
                ("bytes/s", r.bytes_per_s, c.bytes_per_s),
                ("connections/s", r.connections_per_s, c.connections_per_s),
            ] {
                if let Some(max) = max {
                    if have > max {
                        return Verdict::NotApplied(format!(
                            "suppression {} matched but {name} peaked at {have:.1}, above its ceiling {max}",
                            self.id
                        ));
                    }
                }
            }
        }
        Verdict::Suppressed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[suppression]]
id = "SUP-1"
reason = "Acme monitor pings the gateway"
owner = "netops@example.com"
expires = "2030-01-31"
match = { path = "/Library/Application Support/Acme/*", user = "root" }
ceiling = { spawns_per_s = 2.0 }

[[suppression]]
id = "SUP-OLD"
reason = "old"
owner = "x"
expires = "2020-01-01"
match = { host = "build-*" }

[[suppression]]
id = "SUP-BAD"
reason = "no owner"
expires = "2030-01-01"
match = { host = "*" }

[[suppression]]
id = "SUP-RE"
reason = "r"
owner = "o"
expires = "2030-01-01"
match = { argv = "([" }
"#;

    #[test]
    fn load_warns_on_expired_and_malformed() {
        let s =
            Suppressions::parse(FILE, Path::new("s.toml"), Ts::from_secs(1_800_000_000)).unwrap();
        assert_eq!(s.list.len(), 2);
        assert!(
            s.warnings
                .iter()
                .any(|w| w.contains("SUP-OLD") && w.contains("expired")),
            "{:?}",
            s.warnings
        );
        assert!(s
            .warnings
            .iter()
            .any(|w| w.contains("SUP-BAD") && w.contains("missing owner")));
        assert!(s
            .warnings
            .iter()
            .any(|w| w.contains("SUP-RE") && w.contains("regex")));
        assert!(Suppressions::parse("[[suppression]\n", Path::new("s.toml"), Ts(0)).is_err());
    }

    #[test]
    fn ceiling_and_expiry_in_event_time() {
        let s = Suppressions::parse(FILE, Path::new("s.toml"), Ts(0)).unwrap();
        let f = Facts {
            host: "build-1",
            paths: vec!["/Library/Application Support/Acme/monitor-agent"],
            users: vec!["root".into()],
            ..Facts::default()
        };
        let at = Ts::from_secs(1_800_000_000); // 2027
        let low = Rates {
            spawns_per_s: 0.5,
            ..Rates::default()
        };
        assert_eq!(s.judge(&f, &low, at).0.unwrap().id, "SUP-1");
        let high = Rates {
            spawns_per_s: 40.0,
            ..Rates::default()
        };
        let (hit, notes) = s.judge(&f, &high, at);
        assert!(hit.is_none());
        assert!(
            notes
                .iter()
                .any(|n| n.contains("SUP-1") && n.contains("ceiling")),
            "{notes:?}"
        );
        assert!(notes
            .iter()
            .any(|n| n.contains("SUP-OLD") && n.contains("expired")));
        // Before its expiry, the old one applied.
        let (hit, _) = s.judge(
            &Facts {
                host: "build-2",
                ..Facts::default()
            },
            &low,
            Ts::from_secs(1_500_000_000),
        );
        assert_eq!(hit.unwrap().id, "SUP-OLD");
    }

    #[test]
    fn argv_is_anchored_and_every_destination_must_be_allowed() {
        let file = r#"
[[suppression]]
id = "SUP-HC"
reason = "health checks"
owner = "sre@example.com"
expires = "2030-01-01"
match = { argv = "/usr/bin/curl -s https://health\\.example\\.com/ping", destination = "192.0.2.*" }
"#;
        let s = Suppressions::parse(file, Path::new("s.toml"), Ts(0)).unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let at = Ts::from_secs(1_800_000_000);
        let judge = |cmd: &str, dests: Vec<&'static str>| {
            let f = Facts {
                host: "h",
                cmdlines: vec![cmd.to_string()],
                destinations: dests,
                ..Facts::default()
            };
            s.judge(&f, &Rates::default(), at).0.map(|x| x.id.clone())
        };
        let ok = "/usr/bin/curl -s https://health.example.com/ping";
        assert_eq!(judge(ok, vec!["192.0.2.10"]).as_deref(), Some("SUP-HC"));
        // The allowed string inside a longer command line is not the allowed command.
        let smuggled = "/usr/bin/curl -Z http://203.0.113.9/[1-99999] -H x:/usr/bin/curl -s https://health.example.com/ping";
        assert_eq!(judge(smuggled, vec!["192.0.2.10"]), None);
        // One allowed destination among others is not enough.
        assert_eq!(judge(ok, vec!["192.0.2.10", "203.0.113.9"]), None);
        assert_eq!(judge(ok, vec![]), None);
    }
}
