//! floodwatch-respond: the response stage, after every host's alerts are final. It links findings of
//! several hosts against one destination into campaigns ([`campaign`]), then gives every alert and
//! network finding a playbook: decision points answered from the evidence ([`decide`]), containment
//! options least disruptive first with the one to take first ([`contain`]), business-impact checks
//! and what to collect ([`impact`]), put together in `playbook`. Commands quote every attacker-controlled
//! value ([`shell`]).

pub mod campaign;
pub mod contain;
pub mod decide;
pub mod impact;
pub mod owned;
mod playbook;
pub mod shell;

use campaign::{build_campaign, Cluster, Ref};
use floodwatch_core::alert::{Alert, Severity};
use floodwatch_core::config::Config;
use floodwatch_core::finding::NetworkFinding;
use floodwatch_core::respond::{Campaign, CampaignRef, Playbook};
use floodwatch_engine::severity::severity;
use playbook::{alert_playbook, finding_playbook};
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
