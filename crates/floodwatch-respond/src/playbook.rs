//! A playbook for one alert or network finding: the decision points ([`crate::decide`]), the
//! containment options and the first step ([`crate::contain`]), impact checks and what to collect
//! ([`crate::impact`]), put together with the one-line `next` and the summary OCSF carries.

use crate::contain::{self, Subject};
use crate::decide::{self, Decided};
use crate::impact;
use floodwatch_core::alert::Alert;
use floodwatch_core::config::Config;
use floodwatch_core::finding::{NetworkClass, NetworkFinding};
use floodwatch_core::respond::{CollectItem, Containment, ImpactCheck, Playbook};

pub(crate) fn alert_playbook(a: &Alert, cfg: &Config, hosts: u64) -> Playbook {
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

pub(crate) fn finding_playbook(n: &NetworkFinding, cfg: &Config, hosts: u64) -> Playbook {
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

pub(crate) fn assemble(
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
