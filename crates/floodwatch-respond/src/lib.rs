//! floodwatch-respond: the response stage, after every host's alerts are final. It links findings of
//! several hosts against one destination into campaigns ([`campaign`]), then gives every alert and
//! network finding a playbook: decision points answered from the evidence ([`decide`]), containment
//! options least disruptive first with the one to take first ([`contain`]), business-impact checks
//! and what to collect ([`impact`]). Commands quote every attacker-controlled value ([`shell`]).

pub mod campaign;
pub mod contain;
pub mod decide;
pub mod impact;
pub mod owned;
pub mod shell;

use campaign::{Cluster, Ref};
use contain::Subject;
use decide::Decided;
use floodwatch_core::alert::{fmt_bytes_rate, Alert, Reason, Severity};
use floodwatch_core::config::Config;
use floodwatch_core::finding::{fmt_count_rate, NetworkClass, NetworkFinding};
use floodwatch_core::respond::{
    Answer, Campaign, CampaignRef, CollectItem, Containment, Decision, ImpactCheck, Playbook,
};
use floodwatch_engine::severity::severity;
use std::collections::BTreeMap;

/// Campaigns first (they raise their members' scores), then a playbook for every alert and finding.
/// `alerts` and `findings` must be in the run's sorted order: campaigns come out sorted by first
/// alert, then id.
pub fn respond(
    mut alerts: Vec<&mut Alert>,
    findings: &mut [NetworkFinding],
    cfg: &Config,
) -> Vec<Campaign> {
    let clusters = campaign::clusters(&alerts, findings, cfg);
    let mut hosts_of: BTreeMap<Ref, u64> = BTreeMap::new();
    let mut linked: Vec<(&Cluster, CampaignRef)> = Vec::new();
    for cl in &clusters {
        for (r, _) in &cl.members {
            hosts_of.insert(*r, cl.hosts.len() as u64);
        }
        if cl.hosts.len() < cfg.campaign.min_hosts {
            continue;
        }
        let cref = CampaignRef {
            id: cl.id(),
            destination: cl.destination(),
            hosts: cl.hosts.len() as u64,
        };
        for (r, _) in &cl.members {
            match *r {
                Ref::Alert(i) => {
                    if let Some(a) = alerts.get_mut(i) {
                        raise_alert(a, cl, &cref, cfg);
                    }
                }
                Ref::Finding(i) => {
                    if let Some(n) = findings.get_mut(i) {
                        raise_finding(n, cl, &cref);
                    }
                }
            }
        }
        linked.push((cl, cref));
    }
    for (i, a) in alerts.iter_mut().enumerate() {
        let hosts = hosts_of.get(&Ref::Alert(i)).copied().unwrap_or(1);
        a.playbook = Some(alert_playbook(a, cfg, hosts));
    }
    for (i, n) in findings.iter_mut().enumerate() {
        let hosts = hosts_of.get(&Ref::Finding(i)).copied().unwrap_or(1);
        n.playbook = Some(finding_playbook(n, cfg, hosts));
    }
    let mut out: Vec<Campaign> = linked
        .into_iter()
        .map(|(cl, cref)| build_campaign(cl, cref, &alerts, findings, cfg))
        .collect();
    out.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.id.cmp(&b.id)));
    out
}

/// A playbook for one alert with no fleet view (`watch`, which sees alerts one at a time).
pub fn playbook_alone(a: &Alert, cfg: &Config) -> Playbook {
    alert_playbook(a, cfg, 1)
}

fn raise_alert(a: &mut Alert, cl: &Cluster, cref: &CampaignRef, cfg: &Config) {
    let bonus = cfg.campaign.score_bonus;
    let r = campaign::member_reason(cl, &cref.id, bonus);
    let at = a
        .reasons
        .iter()
        .position(|x| x.points < r.points)
        .unwrap_or(a.reasons.len());
    a.reasons.insert(at, r);
    a.score = a.score.saturating_add(bonus).min(100);
    a.severity = severity(a.score).max(a.severity);
    a.campaign = Some(cref.clone());
}

fn raise_finding(n: &mut NetworkFinding, cl: &Cluster, cref: &CampaignRef) {
    n.reasons.insert(
        0,
        campaign::member_reason(cl, &cref.id, 0)
            .text
            .replace("part of campaign", "Part of campaign"),
    );
    n.severity = match n.severity {
        Severity::Informational => Severity::Low,
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        Severity::High | Severity::Critical => Severity::Critical,
    };
    n.campaign = Some(cref.clone());
}

fn alert_playbook(a: &Alert, cfg: &Config, hosts: u64) -> Playbook {
    let d = decide::decide_alert(a, cfg);
    let p = &a.subject.process;
    let subject = Subject {
        host: &a.host,
        process: Some(p),
        launched_by: &a.context.launched_by,
        program: a.facts.script.as_deref().or(p.path.as_deref()),
        group: a.subject.kind == "lineage_group",
        uid: a.facts.uid,
        owner: a.suppressed_by.as_ref().map(|s| s.owner.as_str()),
    };
    let (containment, first, why) = contain::containment(&d, &subject, cfg);
    let launchd = a.context.launched_by.starts_with("launchd");
    let plist_find = containment
        .iter()
        .find(|c| c.id == "unload_job")
        .and_then(|c| c.commands.first())
        .filter(|_| launchd)
        .cloned();
    let impact = impact::impact(&d, impact::alert_rate(a), a.first_seen, a.last_seen, hosts);
    let collect = impact::collect_alert(a, launchd, plist_find.as_deref());
    assemble(d, containment, first, why, impact, collect)
}

fn finding_playbook(n: &NetworkFinding, cfg: &Config, hosts: u64) -> Playbook {
    let d = decide::decide_finding(n, cfg);
    let subject = Subject {
        host: &n.host,
        process: n.process.process.as_ref(),
        launched_by: "",
        program: n.process.process.as_ref().and_then(|p| p.path.as_deref()),
        group: false,
        uid: n.process.process.as_ref().and_then(|p| p.euid.or(p.uid)),
        owner: None,
    };
    let (mut containment, mut first, mut why) = contain::containment(&d, &subject, cfg);
    // A capture or conn.log may come from a sensor, not the sender: say where the block goes.
    if let Some(b) = containment
        .iter_mut()
        .find(|c| c.id == "block_destination" && c.applicable)
        .filter(|_| n.class != NetworkClass::Flood)
    {
        // A scan is not a flood to block; an inbound flood's target is this side.
        b.applicable = false;
        b.commands.clear();
        b.note = Some(format!(
            "not for a {}: nothing outbound to block",
            n.class.as_str()
        ));
    } else if let Some(b) = containment
        .iter_mut()
        .find(|c| c.id == "block_destination" && c.applicable)
    {
        b.title = format!("{} from {}", b.title.replace(" on this Mac", ""), n.local);
        b.note = Some(format!(
            "run the pf commands on the sending Mac ({}); where the telemetry came from a sensor ({}), block {} → {} at the network edge instead",
            n.local,
            n.host,
            n.local,
            n.target.as_deref().unwrap_or("?")
        ));
    }
    match n.class {
        NetworkClass::Flood => {}
        NetworkClass::Scan => {
            first = "confirm_owner";
            why = "a scan is not a flood: confirm it is sanctioned (an inventory or vulnerability scanner) before anything else".into();
        }
        NetworkClass::Inbound => {
            first = "confirm_owner";
            why = "this host is the target, not the source: check the service it runs and the upstream filtering with its owner".into();
        }
    }
    let impact = impact::impact(
        &d,
        impact::finding_rate(n),
        n.first_seen,
        n.last_seen,
        hosts,
    );
    let collect = impact::collect_finding(n);
    assemble(d, containment, first, why, impact, collect)
}

fn assemble(
    d: Decided,
    containment: Vec<Containment>,
    first: &str,
    why: String,
    impact: Vec<ImpactCheck>,
    collect: Vec<CollectItem>,
) -> Playbook {
    let title = containment
        .iter()
        .find(|c| c.id == first)
        .map_or_else(|| first.to_string(), |c| c.title.clone());
    let then: Vec<String> = containment
        .iter()
        .filter(|c| c.id != first && c.applicable)
        .map(|c| lower_first(&c.title))
        .collect();
    let short = why.split(": ").next().unwrap_or(&why).to_string();
    Playbook {
        next: format!("{title} ({short})"),
        summary: format!(
            "Recommended first: {}. Why: {why}.{}",
            lower_first(&title),
            if then.is_empty() {
                String::new()
            } else {
                format!(
                    " Other options, least disruptive first: {}.",
                    then.join("; ")
                )
            }
        ),
        decisions: d.decisions,
        recommended: first.to_string(),
        why,
        containment,
        impact,
        collect,
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn build_campaign(
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
    let traits = campaign::shared_traits(&members);
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
