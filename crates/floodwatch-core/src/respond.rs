//! The response side of a finding: a playbook (decision points answered from the evidence,
//! containment options ordered by disruption, business-impact checks, what to collect) and fleet-wide
//! campaigns (several hosts flooding one destination at the same time). The `floodwatch-respond`
//! crate decides them; sinks render them; the store keeps them inside the alert's JSON.

use crate::alert::{Reason, Severity};
use crate::time::Ts;
use serde::{Deserialize, Serialize};

/// An answer to a decision point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(bitcode::Encode, bitcode::Decode)]
pub enum Answer {
    Yes,
    No,
    Unknown,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::Unknown => "unknown",
        }
    }
}

/// One decision point: a question, its answer, and the fact from the data behind the answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, bitcode::Encode, bitcode::Decode)]
pub struct Decision {
    /// Stable code: `documented_automation`, `still_running`, `trusted_code`, `someone_present`,
    /// `role_expected`, `target_answered`, `destination_owned`.
    pub id: String,
    pub question: String,
    pub answer: Answer,
    pub fact: String,
}

/// A containment option. Options are listed least disruptive first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, bitcode::Encode, bitcode::Decode)]
pub struct Containment {
    /// Stable code: `confirm_owner`, `stop_process`, `unload_job`, `block_destination`, `isolate_host`.
    pub id: String,
    pub title: String,
    /// 1 (least disruptive) to 5.
    pub disruption: u8,
    /// When to choose it.
    pub when: String,
    /// Ready-to-paste macOS shell commands, every attacker-controlled value quoted for `sh`.
    pub commands: Vec<String>,
    /// Whether it can help with what the data shows (a process that exited cannot be stopped).
    pub applicable: bool,
    /// Why it does not apply, or a caveat.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// A business-service impact check for one destination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, bitcode::Encode, bitcode::Decode)]
pub struct ImpactCheck {
    pub destination: String,
    /// Peak rate toward it, in words ("6.7 curl execs/s, 117 B/s").
    pub rate: String,
    pub duration_secs: f64,
    /// Hosts of this run that sent to the same destination (or its prefix) in overlapping windows.
    pub hosts_same_destination: u64,
    /// The configured name of the owned service the destination belongs to; None when outside.
    pub owned_service: Option<String>,
    /// What to check, before and after containment.
    pub checks: Vec<String>,
}

/// Something to collect before containment, with the command that collects it when there is one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, bitcode::Encode, bitcode::Decode)]
pub struct CollectItem {
    pub what: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub command: Option<String>,
}

/// What to do next about one alert or network finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, bitcode::Encode, bitcode::Decode)]
pub struct Playbook {
    /// One line for tables: "next: stop the process (pid 812) — ...".
    pub next: String,
    /// A paragraph: the recommended first step and why (OCSF `remediation.desc`).
    pub summary: String,
    pub decisions: Vec<Decision>,
    /// The id of the containment option recommended first.
    pub recommended: String,
    /// Why that one, from the decision points.
    pub why: String,
    pub containment: Vec<Containment>,
    pub impact: Vec<ImpactCheck>,
    pub collect: Vec<CollectItem>,
}

impl Playbook {
    pub fn decision(&self, id: &str) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.id == id)
    }
    pub fn recommended_option(&self) -> Option<&Containment> {
        self.containment.iter().find(|c| c.id == self.recommended)
    }
}

/// A member's link to its campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, bitcode::Encode, bitcode::Decode)]
pub struct CampaignRef {
    pub id: String,
    pub destination: String,
    pub hosts: u64,
}

/// A finding that belongs to a campaign.
#[derive(Clone, Debug, PartialEq, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct CampaignMember {
    /// `alert` or `network`.
    pub kind: String,
    pub id: String,
    pub host: String,
    pub first_seen: Ts,
    pub last_seen: Ts,
    /// The exact destination the member sent to (the campaign's may be a prefix).
    pub destination: String,
    pub peak_bytes_per_s: f64,
    pub peak_packets_per_s: f64,
    pub peak_connections_per_s: f64,
    pub peak_spawns_per_s: f64,
    /// The subject in words ("bash /Library/Scripts/.sync.sh (pid 12004)").
    pub subject: String,
}

/// Several hosts flooding one destination (an address, or its IPv4 /24, configurable) in
/// overlapping windows: one finding that links them.
#[derive(Clone, Debug, Serialize, bitcode::Encode, bitcode::Decode)]
pub struct Campaign {
    /// Deterministic: a UUIDv5 of the destination and the sorted member ids.
    pub id: String,
    /// The address, or the prefix (`203.0.113.0/24`) when members hit several addresses in it.
    pub destination: String,
    pub hosts: Vec<String>,
    pub first_seen: Ts,
    pub last_seen: Ts,
    /// The member that started first and the one that ended last (ids).
    pub first_member: String,
    pub last_member: String,
    pub score: u8,
    pub severity: Severity,
    /// Sums of the members' peak rates.
    pub summed_bytes_per_s: f64,
    pub summed_packets_per_s: f64,
    pub summed_connections_per_s: f64,
    pub summed_spawns_per_s: f64,
    /// Traits every alert member shares: "same script path /x/y.sh", "same parent class launchd agent".
    pub shared_traits: Vec<String>,
    pub reasons: Vec<Reason>,
    pub members: Vec<CampaignMember>,
    /// The destination's owned service, when it is one.
    pub owned_service: Option<String>,
    pub playbook: Playbook,
}

impl Campaign {
    pub fn title(&self) -> String {
        format!(
            "Campaign: {} hosts flooding {}",
            self.hosts.len(),
            self.destination
        )
    }
}
