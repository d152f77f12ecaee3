//! Fleet-wide campaigns: findings of several hosts against one destination (an address, or its IPv4
//! /24, configurable) whose episodes overlap in time. The grouping runs over the whole hunt's sorted
//! findings, after every host has finished, so threads cannot change it: ids and order are
//! deterministic.

use floodwatch_core::alert::{Alert, Reason};
use floodwatch_core::config::Config;
use floodwatch_core::event::basename;
use floodwatch_core::finding::{NetworkClass, NetworkFinding};
use floodwatch_core::net::{group_key, host_of};
use floodwatch_core::respond::CampaignMember;
use floodwatch_core::Ts;
use std::collections::{BTreeMap, BTreeSet};

const CAMPAIGN_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x7c1d_2e8a_4b6f_4a0e_9f3b_5d82_c6e1_a409);

/// Which finding a member is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ref {
    Alert(usize),
    Finding(usize),
}

/// Findings against one destination group whose episodes chain together in time.
pub struct Cluster {
    pub key: String,
    pub members: Vec<(Ref, CampaignMember)>,
    pub hosts: BTreeSet<String>,
    pub first: Ts,
    pub last: Ts,
}

impl Cluster {
    /// The campaign's id: the destination group and its member ids.
    pub fn id(&self) -> String {
        let mut ids: Vec<&str> = self.members.iter().map(|(_, m)| m.id.as_str()).collect();
        ids.sort_unstable();
        let name = format!("{}|{}", self.key, ids.join(","));
        uuid::Uuid::new_v5(&CAMPAIGN_NAMESPACE, name.as_bytes()).to_string()
    }

    /// The exact address when every member hit the same one, else the group (`203.0.113.0/24`).
    pub fn destination(&self) -> String {
        let dests: BTreeSet<&str> = self
            .members
            .iter()
            .map(|(_, m)| host_of(&m.destination))
            .collect();
        match dests.len() {
            1 => dests.into_iter().next().unwrap_or(&self.key).to_string(),
            _ => self.key.clone(),
        }
    }
}

/// Every cluster of the run (campaign-sized or not): the impact checks count hosts from them too.
pub fn clusters(alerts: &[&mut Alert], findings: &[NetworkFinding], cfg: &Config) -> Vec<Cluster> {
    let c = &cfg.campaign;
    let mut members: Vec<(Ref, CampaignMember)> = Vec::new();
    for (i, a) in alerts.iter().enumerate() {
        // A suppressed alert is documented automation: not a campaign member.
        if a.suppressed_by.is_some() {
            continue;
        }
        let Some(dest) = crate::decide::destination_of(a) else {
            continue;
        };
        let p = &a.subject.process;
        let script = a.facts.script.as_deref().map(|s| format!(" {s}"));
        let m = &a.metrics;
        members.push((
            Ref::Alert(i),
            CampaignMember {
                kind: "alert".into(),
                id: a.id.clone(),
                host: a.host.clone(),
                first_seen: a.first_seen,
                last_seen: a.last_seen,
                destination: dest,
                peak_bytes_per_s: m.peak_bytes_per_s,
                peak_packets_per_s: m.peak_packets_per_s,
                peak_connections_per_s: m.peak_connections_per_s,
                peak_spawns_per_s: m.peak_spawns_per_s,
                subject: format!(
                    "{}{} (pid {})",
                    basename(p.path.as_deref().unwrap_or("?")),
                    script.unwrap_or_default(),
                    p.pid
                ),
            },
        ));
    }
    for (i, n) in findings.iter().enumerate() {
        let Some(dest) = n.target.clone().filter(|_| n.class == NetworkClass::Flood) else {
            continue;
        };
        members.push((
            Ref::Finding(i),
            CampaignMember {
                kind: "network".into(),
                id: n.id.clone(),
                host: n.host.clone(),
                first_seen: n.first_seen,
                last_seen: n.last_seen,
                destination: dest,
                peak_bytes_per_s: n.peak_bytes_per_s,
                peak_packets_per_s: n.peak_packets_per_s,
                peak_connections_per_s: n.peak_connections_per_s,
                peak_spawns_per_s: 0.0,
                subject: match &n.process.process {
                    Some(p) => format!(
                        "{} (pid {})",
                        basename(p.path.as_deref().unwrap_or("?")),
                        p.pid
                    ),
                    None => format!("network-only from {}", n.local),
                },
            },
        ));
    }
    let mut by_key: BTreeMap<String, Vec<(Ref, CampaignMember)>> = BTreeMap::new();
    for (r, m) in members {
        let key = group_key(&m.destination, c.ipv4_prefix, c.ipv6_prefix);
        by_key.entry(key).or_default().push((r, m));
    }
    let slack = c.overlap.as_nanos() as i64;
    let mut out = Vec::new();
    for (key, mut members) in by_key {
        members.sort_by(|a, b| {
            a.1.first_seen
                .cmp(&b.1.first_seen)
                .then(a.1.host.cmp(&b.1.host))
                .then(a.1.id.cmp(&b.1.id))
        });
        let mut cur: Option<Cluster> = None;
        for (r, m) in members {
            match cur.as_mut() {
                Some(cl) if m.first_seen.0 <= cl.last.0.saturating_add(slack) => {
                    cl.last = cl.last.max(m.last_seen);
                    cl.hosts.insert(m.host.clone());
                    cl.members.push((r, m));
                }
                _ => {
                    if let Some(done) = cur.take() {
                        out.push(done);
                    }
                    cur = Some(Cluster {
                        key: key.clone(),
                        hosts: BTreeSet::from([m.host.clone()]),
                        first: m.first_seen,
                        last: m.last_seen,
                        members: vec![(r, m)],
                    });
                }
            }
        }
        out.extend(cur);
    }
    out
}

/// Traits every alert member shares, in words.
pub fn shared_traits(members: &[&Alert]) -> Vec<String> {
    let mut out = Vec::new();
    if members.len() < 2 {
        return out;
    }
    let same = |f: &dyn Fn(&Alert) -> Option<String>| -> Option<String> {
        let first = f(members[0])?;
        members[1..]
            .iter()
            .all(|a| f(a).as_deref() == Some(first.as_str()))
            .then_some(first)
    };
    if let Some(s) = same(&|a| a.facts.script.clone()) {
        out.push(format!("same script path {s}"));
    } else if let Some(s) = same(&|a| a.facts.script.as_deref().map(shape)) {
        out.push(format!("same script path shape {s}"));
    }
    if let Some(s) =
        same(&|a| Some(a.context.launched_by.clone()).filter(|l| !l.is_empty() && l != "unknown"))
    {
        out.push(format!("same parent class {}", s.replace('_', " ")));
    }
    if let Some(s) = same(&|a| a.subject.process.signing_id.clone()) {
        out.push(format!("same signing id {s}"));
    }
    if let Some(s) = same(&|a| a.subject.process.cmd_line.as_deref().map(shape)) {
        out.push(format!("same command line shape {s}"));
    }
    if let Some(s) = same(&|a| a.subject.children.first().map(|(t, _)| t.clone())) {
        out.push(format!("same tool {s}"));
    }
    out
}

/// A command line with what varies per host taken out: home folders, numbers.
pub fn shape(cmd: &str) -> String {
    let mut out = String::with_capacity(cmd.len());
    let mut rest = cmd;
    while let Some(i) = rest.find("/Users/") {
        out.push_str(&rest[..i + 7]);
        let after = &rest[i + 7..];
        let end = after.find('/').unwrap_or(after.len());
        out.push('*');
        rest = &after[end..];
    }
    out.push_str(rest);
    let mut shaped = String::with_capacity(out.len());
    let mut in_digits = false;
    for ch in out.chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                shaped.push('N');
            }
            in_digits = true;
        } else {
            in_digits = false;
            shaped.push(ch);
        }
    }
    shaped.chars().take(200).collect()
}

/// The reason a member gets for being part of a campaign.
pub fn member_reason(cl: &Cluster, id: &str, bonus: u8) -> Reason {
    Reason {
        code: "campaign".into(),
        points: i32::from(bonus),
        text: format!(
            "part of campaign {}: {} hosts flooded {} in overlapping windows between {} and {}",
            &id[..id.len().min(8)],
            cl.hosts.len(),
            cl.destination(),
            cl.first.to_rfc3339_millis(),
            cl.last.hms()
        ),
        value: Some(cl.hosts.len() as f64),
        threshold: None,
    }
}

#[cfg(test)]
mod tests {
    use super::shape;

    #[test]
    fn shapes_ignore_home_folders_and_numbers() {
        assert_eq!(
            shape("/bin/zsh /Users/alice/Library/.cache/sync.sh 203.0.113.10"),
            shape("/bin/zsh /Users/bob/Library/.cache/sync.sh 203.0.113.99")
        );
        assert_ne!(shape("/bin/zsh /tmp/a.sh"), shape("/bin/zsh /tmp/b.sh"));
    }
}
