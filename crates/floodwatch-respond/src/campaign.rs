//! Fleet-wide campaigns: findings of several hosts against one destination (an address, or its IPv4
//! /24, configurable) whose episodes overlap in time. The grouping runs over the whole hunt's sorted
//! findings, after every host has finished, so threads cannot change it: ids and order are
//! deterministic.

use crate::decide::Decided;
use crate::playbook::assemble;
use crate::{contain, owned, shell};
use floodwatch_core::alert::{fmt_bytes_rate, Alert, Reason};
use floodwatch_core::config::Config;
use floodwatch_core::event::basename;
use floodwatch_core::event::split_endpoint;
use floodwatch_core::finding::{fmt_count_rate, NetworkClass, NetworkFinding};
use floodwatch_core::net::group_key;
use floodwatch_core::respond::{
    Answer, Campaign, CampaignMember, CampaignRef, CollectItem, Containment, Decision, ImpactCheck,
    Playbook,
};
use floodwatch_core::Ts;
use floodwatch_engine::severity::severity;
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
            .map(|(_, m)| split_endpoint(&m.destination).0)
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

// ---------------------------------------------------------------------------------------------------
// The campaign finding and its playbook.

pub(crate) fn build_campaign(
    cl: &Cluster,
    cref: CampaignRef,
    alerts: &[&mut Alert],
    findings: &[NetworkFinding],
    cfg: &Config,
) -> Campaign {
    let members: Vec<&Alert> = cl
        .members
        .iter()
        .filter_map(|(r, _)| match r {
            Ref::Alert(i) => alerts.get(*i).map(|a| &**a),
            Ref::Finding(_) => None,
        })
        .collect();
    let nets: Vec<&NetworkFinding> = cl
        .members
        .iter()
        .filter_map(|(r, _)| match r {
            Ref::Finding(i) => findings.get(*i),
            Ref::Alert(_) => None,
        })
        .collect();
    let traits = shared_traits(&members);
    let sum = |f: fn(&floodwatch_core::respond::CampaignMember) -> f64| -> f64 {
        cl.members.iter().map(|(_, m)| f(m)).sum()
    };
    let (bytes, packets, conns, spawns) = (
        sum(|m| m.peak_bytes_per_s),
        sum(|m| m.peak_packets_per_s),
        sum(|m| m.peak_connections_per_s),
        sum(|m| m.peak_spawns_per_s),
    );
    let score = members.iter().map(|a| a.score).max().unwrap_or(70).max(
        nets.iter()
            .map(|n| floodwatch_engine::severity::band_floor(n.severity))
            .max()
            .unwrap_or(0),
    );
    let destination = cref.destination.clone();
    let owned = owned::ownership(&destination, &cfg.respond);
    let mut rate = Vec::new();
    if spawns > 0.0 {
        rate.push(format!("{} tool execs/s", fmt_count_rate(spawns)));
    }
    if packets > 0.0 {
        rate.push(format!("{} packets/s", fmt_count_rate(packets)));
    }
    rate.push(fmt_bytes_rate(bytes));
    if conns > 0.0 {
        rate.push(format!("{} connections/s", fmt_count_rate(conns)));
    }
    let rate = format!("summed peak {}", rate.join(", "));
    let hosts: Vec<String> = cl.hosts.iter().cloned().collect();
    let mut reasons = vec![Reason {
        code: "campaign_hosts".into(),
        points: i32::from(cfg.campaign.score_bonus),
        text: format!(
            "{} hosts flooded {} in overlapping windows between {} and {} ({} finding(s): {})",
            hosts.len(),
            destination,
            cl.first.to_rfc3339_millis(),
            cl.last.hms(),
            cl.members.len(),
            hosts.join(", ")
        ),
        value: Some(hosts.len() as f64),
        threshold: Some(cfg.campaign.min_hosts as f64),
    }];
    reasons.push(Reason {
        code: "campaign_rate".into(),
        points: 0,
        text: rate.clone(),
        value: Some(bytes),
        threshold: None,
    });
    if !traits.is_empty() {
        reasons.push(Reason {
            code: "campaign_traits".into(),
            points: 0,
            text: format!("every member shares: {}", traits.join("; ")),
            value: None,
            threshold: None,
        });
    }
    let playbook = campaign_playbook(cl, &destination, &owned, &traits, &members, &rate, cfg);
    Campaign {
        id: cref.id,
        destination,
        hosts,
        first_seen: cl.first,
        last_seen: cl.last,
        // Members are in start order; the last to end is the latest last_seen (first such in order).
        first_member: cl
            .members
            .first()
            .map(|(_, m)| m.id.clone())
            .unwrap_or_default(),
        last_member: cl
            .members
            .iter()
            .rev()
            .max_by_key(|(_, m)| m.last_seen)
            .map(|(_, m)| m.id.clone())
            .unwrap_or_default(),
        score,
        severity: severity(score),
        summed_bytes_per_s: bytes,
        summed_packets_per_s: packets,
        summed_connections_per_s: conns,
        summed_spawns_per_s: spawns,
        shared_traits: traits,
        reasons,
        members: cl.members.iter().map(|(_, m)| m.clone()).collect(),
        owned_service: owned.service.clone(),
        playbook,
    }
}

fn campaign_playbook(
    cl: &Cluster,
    destination: &str,
    owned: &owned::Ownership,
    traits: &[String],
    members: &[&Alert],
    rate: &str,
    cfg: &Config,
) -> Playbook {
    let answer_of = |a: &Alert, id: &str| {
        a.playbook
            .as_ref()
            .and_then(|p| p.decision(id))
            .map(|d| d.answer)
    };
    let running = members
        .iter()
        .filter(|a| answer_of(a, "still_running") != Some(Answer::No))
        .count();
    let isolate = members
        .iter()
        .filter(|a| {
            a.playbook
                .as_ref()
                .is_some_and(|p| p.recommended == "isolate_host")
        })
        .count();
    let decisions = vec![
        Decision {
            id: "destination_owned".into(),
            question: "Is the destination inside the organization?".into(),
            answer: owned.answer,
            fact: owned.fact.clone(),
        },
        Decision {
            id: "shared_code".into(),
            question: "Do the members run the same thing (one distribution: an MDM push, a shared login item, one intruder)?".into(),
            answer: if traits.is_empty() { Answer::No } else { Answer::Yes },
            fact: if traits.is_empty() {
                "the member alerts share no script, signing id, parent class or command line shape".into()
            } else {
                traits.join("; ")
            },
        },
        Decision {
            id: "members_running".into(),
            question: "Are members still running at the end of the data?".into(),
            answer: if members.is_empty() {
                Answer::Unknown
            } else if running > 0 {
                Answer::Yes
            } else {
                Answer::No
            },
            fact: format!(
                "{running} of {} process alert(s) not seen to exit",
                members.len()
            ),
        },
        Decision {
            id: "members_compromised".into(),
            question: "Do member playbooks treat their Macs as compromised?".into(),
            answer: if isolate > 0 { Answer::Yes } else { Answer::No },
            fact: format!(
                "{isolate} of {} member playbook(s) recommend isolating the host first",
                members.len()
            ),
        },
    ];
    let per_member: Vec<String> = members
        .iter()
        .filter_map(|a| {
            a.playbook
                .as_ref()
                .map(|p| format!("{}: {}", a.host, p.next))
        })
        .collect();
    let mut block = contain::block_destination(Some(destination), owned);
    block.title = format!("Block {destination} at the egress firewall (and on each member)");
    block.when = "the destination is outside the organization: one rule stops every member at once while each host is contained".into();
    let containment = vec![
        Containment {
            id: "contain_members".into(),
            title: "Contain each member as its own playbook says".into(),
            disruption: 2,
            when: "always: the campaign links them, each host still needs its own step".into(),
            commands: Vec::new(),
            applicable: true,
            note: Some(per_member.join(" | ")),
        },
        block,
        Containment {
            id: "isolate_host".into(),
            title: format!("Isolate the {} member hosts", cl.hosts.len()),
            disruption: 5,
            when: "members run untrusted code with nobody at the keyboard".into(),
            commands: Vec::new(),
            applicable: true,
            note: Some(format!("through {}", cfg.respond.isolation_tool)),
        },
    ];
    let (first, why) = if owned.answer == Answer::No {
        (
            "block_destination",
            format!(
                "{} hosts are flooding an outside address at once: one egress rule stops all of them while each member is contained",
                cl.hosts.len()
            ),
        )
    } else {
        (
            "contain_members",
            "the destination may be the organization's own: blocking it fleet-wide could cut users off; contain each member instead".to_string(),
        )
    };
    let impact = vec![ImpactCheck {
        destination: destination.to_string(),
        rate: rate.to_string(),
        duration_secs: (cl.last.0 - cl.first.0).max(0) as f64 / 1e9,
        hosts_same_destination: cl.hosts.len() as u64,
        owned_service: owned.service.clone(),
        checks: vec![match &owned.service {
            Some(s) => format!("Check {s}'s error rate and saturation for the campaign's span, before and after containment: the load is the members' sum"),
            None => format!("Record the summed rate and times for {destination}'s owner or an abuse contact: the organization is the source of a distributed flood"),
        }],
    }];
    let mut collect = Vec::new();
    if let Some(first_member) = members.first() {
        if let Some(script) = &first_member.facts.script {
            collect.push(CollectItem {
                what: "the shared script".into(),
                detail: format!(
                    "{script} from {} first (it tells how it spread)",
                    first_member.host
                ),
                command: Some(format!("shasum -a 256 -- {}", shell::quote(script))),
            });
        }
    }
    collect.push(CollectItem {
        what: "each member's evidence".into(),
        detail: "as each member's playbook lists".into(),
        command: None,
    });
    assemble(
        Decided {
            decisions,
            documented: Answer::Unknown,
            running: Answer::Unknown,
            trusted: Answer::Unknown,
            present: Answer::Unknown,
            owned: owned::Ownership {
                answer: owned.answer,
                service: owned.service.clone(),
                fact: owned.fact.clone(),
            },
            destination: Some(destination.to_string()),
        },
        containment,
        first,
        why,
        impact,
        collect,
    )
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
