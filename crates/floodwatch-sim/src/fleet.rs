//! A labelled fleet: many hosts, one folder each, a day of activity in the real formats, and one
//! ground-truth [`Label`] per activity in `labels.jsonl`.
//!
//! Every host gets a role that decides its files: a *laptop* (eslogger, nettop, unified log), a
//! *build agent* (eslogger and nettop, on UTC) or a *server-ish desktop* (osquery `es_process_events`,
//! nettop, unified log). `attack_hosts` hosts get one attack family each (the families in
//! [`ATTACK_FAMILIES`] in turn, so 15 attack hosts cover them all); every host gets several routine
//! activities of its role ([`BENIGN_FAMILIES`]). Activities are spread over the day, each with the
//! host's background noise around it only, so a 50-host day stays small (a few MB per host). Two
//! robustness conditions ([`ROBUSTNESS_FAMILIES`]) are labelled too: a unified log whose clock is a few
//! seconds off the host's other sources, and an eslogger file cut in the middle of its last line.
//!
//! Deterministic: the same spec gives the same bytes, whatever the number of threads.

use crate::families::{self, Act};
use crate::host::{Files, HostFiles, HostOpts, ESLOGGER_FILE};
use crate::nettop::Columns;
use crate::scenario;
use crate::util::{mix, rfc3339_nanos};
use floodwatch_core::time::{days_from_civil, parse_rfc3339};
use floodwatch_core::Ts;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::{self, Write};
use std::path::Path;

/// Attack families; all should alert except `low-rate-decoy` (attack-shaped, just under thresholds).
pub const ATTACK_FAMILIES: &[&str] = &[
    "launchdaemon-curl-loop",
    "launchagent-curl-loop",
    "cron-curl-loop",
    "osascript-curl-loop",
    "root-ping-flood",
    "ping-fast-interval",
    "ping-preload",
    "curl-range-flood",
    "python-udp-flood",
    "perl-udp-flood",
    "hping3-flood",
    "nping-flood",
    "unsigned-network-framework-binary",
    "pid-reuse",
    "low-rate-decoy",
];

/// Routine activity that must not alert.
pub const BENIGN_FAMILIES: &[&str] = &[
    "interactive-admin-ping",
    "interactive-admin-curl",
    "monitoring-agent-pings",
    "software-update",
    "time-machine",
    "browser-and-video-call",
    "developer-scripts",
    "ci-runner",
    "mdm-checkin",
];

/// Conditions of a host's files that must not change any verdict (labelled, never alerting, no
/// subject): `clock-skew` (the unified log a few seconds off eslogger/osquery) and
/// `truncated-last-line` (eslogger.jsonl cut mid-line: the parser reports "truncated last line", one
/// rejected line).
pub const ROBUSTNESS_FAMILIES: &[&str] = &["clock-skew", "truncated-last-line"];

/// What [`write_fleet`] generates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetSpec {
    pub hosts: usize,
    pub seed: u64,
    /// Start of the simulated span (UTC).
    pub start: Ts,
    /// Length of the simulated span, in seconds (86,400: a day).
    pub duration_s: i64,
    /// How many hosts get one attack family each.
    pub attack_hosts: usize,
    /// No attacks at all (and no decoy): a false-alert yardstick.
    pub benign_only: bool,
    /// Days written, each `duration_s` long from the same time of day: every host repeats its routine
    /// each day (drawn afresh), and its attack (if any) runs on the last day only.
    pub days: u32,
    /// Where a host's day goes: `dir/HOST/`, `dir/HOST/YYYY-MM-DD/` or `dir/YYYY-MM-DD/HOST/`.
    pub layout: Layout,
}

/// Folder layouts of a collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `dir/HOST/` (one day).
    Host,
    /// `dir/HOST/YYYY-MM-DD/` (the layout the README documents for several days).
    HostDate,
    /// `dir/YYYY-MM-DD/HOST/`.
    DateHost,
}

impl Layout {
    pub fn parse(s: &str) -> Option<Layout> {
        match s {
            "host" => Some(Layout::Host),
            "host-date" => Some(Layout::HostDate),
            "date-host" => Some(Layout::DateHost),
            _ => None,
        }
    }

    /// The folder of `host`'s files of the day starting at `day` (UTC).
    pub fn dir(self, root: &Path, host: &str, day: Ts) -> std::path::PathBuf {
        let date = rfc3339_nanos(day)[..10].to_string();
        match self {
            Layout::Host => root.join(host),
            Layout::HostDate => root.join(host).join(date),
            Layout::DateHost => root.join(date).join(host),
        }
    }
}

impl Default for FleetSpec {
    fn default() -> Self {
        let hosts = 50;
        FleetSpec {
            hosts,
            seed: 1,
            start: Ts::from_secs(days_from_civil(2025, 9, 16) * 86_400),
            duration_s: 86_400,
            attack_hosts: hosts / 3,
            benign_only: false,
            days: 1,
            layout: Layout::Host,
        }
    }
}

/// Ground truth for one activity (or one robustness condition) on one host.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub host: String,
    pub family: String,
    pub attack: bool,
    pub should_alert: bool,
    /// The process an alert should name (for benign activity: the one it would name).
    pub subject_pid: Option<i32>,
    pub subject_path: Option<String>,
    pub start: Ts,
    pub end: Ts,
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Laptop,
    BuildAgent,
    Desktop,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Laptop => "laptop",
            Role::BuildAgent => "build agent",
            Role::Desktop => "server-ish desktop",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Role::Laptop => "mbp",
            Role::BuildAgent => "build",
            Role::Desktop => "mini",
        }
    }

    fn has_unifiedlog(self) -> bool {
        self != Role::BuildAgent
    }

    fn has_eslogger(self) -> bool {
        self != Role::Desktop
    }

    fn files(self) -> Files {
        Files {
            eslogger: self.has_eslogger(),
            nettop: true,
            unifiedlog: self.has_unifiedlog(),
        }
    }

    /// Routine activities of the role: (always, pick some of).
    fn routine(
        self,
    ) -> (
        &'static [&'static str],
        &'static [&'static str],
        usize,
        usize,
    ) {
        match self {
            Role::Laptop => (
                &[],
                &[
                    "interactive-admin-ping",
                    "interactive-admin-curl",
                    "browser-and-video-call",
                    "developer-scripts",
                    "software-update",
                    "time-machine",
                    "mdm-checkin",
                    "monitoring-agent-pings",
                ],
                3,
                5,
            ),
            Role::BuildAgent => (
                &["ci-runner"],
                &[
                    "monitoring-agent-pings",
                    "software-update",
                    "mdm-checkin",
                    "developer-scripts",
                    "interactive-admin-ping",
                ],
                2,
                3,
            ),
            Role::Desktop => (
                &[],
                &[
                    "monitoring-agent-pings",
                    "time-machine",
                    "software-update",
                    "mdm-checkin",
                    "interactive-admin-ping",
                    "interactive-admin-curl",
                    "browser-and-video-call",
                ],
                3,
                4,
            ),
        }
    }
}

/// Roles a family can run on: unified-log-only traffic needs a unified log; pid reuse needs process
/// start times (eslogger).
fn roles_for(family: &str) -> &'static [Role] {
    match family {
        "unsigned-network-framework-binary" => &[Role::Laptop, Role::Desktop],
        "pid-reuse" => &[Role::Laptop, Role::BuildAgent],
        _ => &[Role::Laptop, Role::BuildAgent, Role::Desktop],
    }
}

/// One activity with its parameters, drawn when the fleet is planned.
#[derive(Clone, Debug)]
struct Activity {
    family: &'static str,
    /// Main duration (seconds) and a rate or volume, per family.
    secs: f64,
    rate: f64,
    flag: bool,
}

impl Activity {
    fn draw(family: &'static str, rng: &mut ChaCha8Rng) -> Activity {
        fn u(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> f64 {
            rng.random_range(lo..=hi) as f64
        }
        let secs = match family {
            "launchdaemon-curl-loop"
            | "launchagent-curl-loop"
            | "cron-curl-loop"
            | "osascript-curl-loop"
            | "curl-range-flood" => u(rng, 30, 60),
            "root-ping-flood" => u(rng, 60, 120),
            "ping-fast-interval" => u(rng, 45, 120),
            "ping-preload" | "python-udp-flood" | "perl-udp-flood" => u(rng, 30, 90),
            "hping3-flood" | "nping-flood" => u(rng, 30, 120),
            "unsigned-network-framework-binary" => u(rng, 30, 45),
            "pid-reuse" => 60.0,
            "low-rate-decoy" => u(rng, 60, 120),
            "interactive-admin-ping" => u(rng, 30, 120),
            "monitoring-agent-pings" => u(rng, 300, 900),
            "software-update" | "time-machine" => u(rng, 120, 300),
            "browser-and-video-call" => u(rng, 600, 1_200),
            "ci-runner" => u(rng, 120, 240),
            "mdm-checkin" => u(rng, 1_200, 2_400),
            // interactive-admin-curl, developer-scripts: their length follows from what they do.
            _ => 0.0,
        };
        let rate = match family {
            "launchdaemon-curl-loop"
            | "launchagent-curl-loop"
            | "cron-curl-loop"
            | "osascript-curl-loop" => u(rng, 10, 16),
            "curl-range-flood" => u(rng, 120, 180),
            "python-udp-flood" => u(rng, 15, 25) * 1e6,
            "perl-udp-flood" => u(rng, 12, 20) * 1e6,
            "nping-flood" => u(rng, 15, 30) * 100.0,
            "unsigned-network-framework-binary" => u(rng, 30, 40),
            "pid-reuse" => u(rng, 12, 20) * 1e6,
            "low-rate-decoy" => u(rng, 25, 35) / 10.0,
            "monitoring-agent-pings" => u(rng, 10, 30),
            "time-machine" => u(rng, 30, 80) * 1e6,
            "browser-and-video-call" => u(rng, 10, 25) * 1e5,
            "mdm-checkin" => u(rng, 180, 300),
            _ => 0.0,
        };
        let flag = rng.random_bool(0.5);
        Activity {
            family,
            secs,
            rate,
            flag,
        }
    }

    /// (seconds of telemetry before the activity's start, seconds from its start to its last
    /// telemetry): slots are sized so activities do not overlap.
    fn footprint(&self) -> (i64, i64) {
        let after = match self.family {
            "pid-reuse" => 160,
            "interactive-admin-curl" => 170,
            "developer-scripts" => 100,
            _ => self.secs.ceil() as i64 + 40,
        };
        (130, after)
    }

    fn attack(&self) -> bool {
        ATTACK_FAMILIES.contains(&self.family)
    }

    fn should_alert(&self) -> bool {
        self.attack() && self.family != "low-rate-decoy"
    }

    /// Queues the activity into `hf` at `start`; returns its subject and span, and a note.
    fn run(&self, hf: &mut HostFiles, start: Ts) -> (Act, String) {
        let (s, r) = (self.secs, self.rate);
        let mb = |b: f64| b / 1e6;
        match self.family {
            "launchdaemon-curl-loop" => (
                scenario::launchd_curl_loop(hf, start, s, r).into(),
                format!("LaunchDaemon bash script (root) runs curl {r:.0}/s for {s:.0} s"),
            ),
            "launchagent-curl-loop" => (
                families::launchagent_curl_loop(hf, start, s, r),
                format!("LaunchAgent zsh script runs curl {r:.0}/s for {s:.0} s"),
            ),
            "cron-curl-loop" => (
                families::cron_curl_loop(hf, start, s, r),
                format!("root cron job's bash script runs curl {r:.0}/s for {s:.0} s"),
            ),
            "osascript-curl-loop" => (
                scenario::osascript_curl_loop(hf, start, s, r).into(),
                format!("LaunchAgent osascript runs sh -c curl {r:.0}/s for {s:.0} s"),
            ),
            "root-ping-flood" => (
                scenario::cron_root_ping_flood(hf, start, s).into(),
                format!("cron runs ping -f as root for {s:.0} s (ICMP: no nettop rows)"),
            ),
            "ping-fast-interval" => (
                families::ping_fast_interval(hf, start, s),
                format!("LaunchAgent ping -i 0.002 -s 1200 (500 packets/s) for {s:.0} s"),
            ),
            "ping-preload" => (
                families::ping_preload(hf, start, s),
                format!(
                    "LaunchDaemon bash script runs ping -l 500 -c 500 back to back for {s:.0} s"
                ),
            ),
            "curl-range-flood" => (
                families::curl_range_flood(hf, start, s, r),
                format!(
                    "LaunchAgent zsh script runs curl -Z --parallel-max 100 over [1-100000] for \
                     {s:.0} s, {r:.0} new tcp connections/s in nettop"
                ),
            ),
            "python-udp-flood" => (
                scenario::python_udp_flood(hf, start, s, r as u64).into(),
                format!(
                    "python3 (pid 6101, seen only in nettop) sends {:.0} MB/s of UDP for {s:.0} s",
                    mb(r)
                ),
            ),
            "perl-udp-flood" => (
                families::perl_udp_flood(hf, start, s, r as u64),
                format!(
                    "LaunchDaemon perl one-liner sends {:.0} MB/s of UDP for {s:.0} s",
                    mb(r)
                ),
            ),
            "hping3-flood" => (
                families::hping3_flood(hf, start, s),
                format!("sudo hping3 --flood from an ssh session for {s:.0} s (interactive)"),
            ),
            "nping-flood" => (
                families::nping_flood(hf, start, s, r as u32),
                format!(
                    "LaunchDaemon bash script runs nping --udp --rate {r:.0} -c 0 for {s:.0} s"
                ),
            ),
            "unsigned-network-framework-binary" => (
                scenario::unsigned_binary_unified_log(hf, start, s, r).into(),
                format!(
                    "unsigned /Users/Shared/.cache/netd (pid 6502) closes {r:.0} tcp connections/s \
                     for {s:.0} s, seen only in unified-log connection summaries"
                ),
            ),
            "pid-reuse" => (
                scenario::pid_reuse(hf, start, r as u64).into(),
                format!(
                    "pid 7001: mdworker_shared, then an ad hoc updater sending {:.0} MB/s of UDP \
                     for 60 s, then mdworker_shared again at the same rate over tcp",
                    mb(r)
                ),
            ),
            "low-rate-decoy" => (
                scenario::launchd_curl_loop(hf, start, s, r).into(),
                format!(
                    "LaunchDaemon bash script runs curl {r:.1}/s for {s:.0} s: attack-shaped, \
                     under the 5 execs/s threshold"
                ),
            ),
            "interactive-admin-ping" => (
                scenario::admin_slow_ping(hf, start, s).into(),
                format!("admin's ping (1/s) in Terminal for {s:.0} s"),
            ),
            "interactive-admin-curl" => (
                families::interactive_admin_curl(hf, start),
                "admin's few curl health checks and one download in Terminal".to_string(),
            ),
            "monitoring-agent-pings" => (
                scenario::monitoring_agent_pings(hf, start, s, r as i64).into(),
                format!("monitor-agent runs ping -c 3 every {r:.0} s for {s:.0} s"),
            ),
            "software-update" => (
                families::software_update(hf, start, s),
                format!("softwareupdated download and cloudd upload for {s:.0} s"),
            ),
            "time-machine" => (
                scenario::backupd_volume(hf, start, s, r as u64).into(),
                format!("backupd sends {:.0} MB/s over tcp for {s:.0} s", mb(r)),
            ),
            "browser-and-video-call" => (
                families::browser_and_video_call(hf, start, s, r as u64),
                format!(
                    "zoom.us call ({:.1} MB/s UDP out) and Chrome for {s:.0} s",
                    mb(r)
                ),
            ),
            "developer-scripts" => (
                families::developer_script(hf, start, self.flag),
                if self.flag {
                    "LaunchAgent python script makes a few HTTPS requests".to_string()
                } else {
                    "python script in Terminal makes a few HTTPS requests".to_string()
                },
            ),
            "ci-runner" => (
                families::ci_runner(hf, start, s),
                format!("buildkite-agent runs curl about once a second for {s:.0} s"),
            ),
            _ => (
                families::mdm_checkin(hf, start, s as i64, r as i64),
                format!("mdmclient checks in every {r:.0} s for {s:.0} s"),
            ),
        }
    }
}

/// Everything decided about one host before any of it is written.
#[derive(Clone, Debug)]
struct HostPlan {
    name: String,
    role: Role,
    seed: u64,
    /// The seed of what stays the host's from day to day (zone, eslogger version, user, nettop columns).
    host_seed: u64,
    activities: Vec<Activity>,
    skew_s: Option<f64>,
    truncate: bool,
}

fn plan(spec: &FleetSpec) -> Vec<HostPlan> {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(spec.seed ^ 0xF1EE_7000));
    let n = spec.hosts;
    let attack_n = if spec.benign_only {
        0
    } else {
        spec.attack_hosts.min(n)
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let mut attack_of: Vec<Option<&'static str>> = vec![None; n];
    let mut chosen: Vec<usize> = order[..attack_n].to_vec();
    chosen.sort_unstable();
    for (k, &h) in chosen.iter().enumerate() {
        attack_of[h] = Some(ATTACK_FAMILIES[k % ATTACK_FAMILIES.len()]);
    }
    let mut plans = Vec::with_capacity(n);
    for (h, attack) in attack_of.into_iter().enumerate() {
        let role = match attack {
            Some(f) => {
                let roles = roles_for(f);
                roles[rng.random_range(0..roles.len())]
            }
            None => match rng.random_range(0..20u32) {
                0..=10 => Role::Laptop,
                11..=14 => Role::BuildAgent,
                _ => Role::Desktop,
            },
        };
        let (always, some, lo, hi) = role.routine();
        let mut pool: Vec<&'static str> = some.to_vec();
        pool.shuffle(&mut rng);
        let k = rng.random_range(lo..=hi).min(pool.len());
        let mut fams: Vec<&'static str> = always.to_vec();
        fams.extend(&pool[..k]);
        if let Some(f) = attack {
            fams.push(f);
        }
        let mut activities: Vec<Activity> = fams
            .into_iter()
            .map(|f| Activity::draw(f, &mut rng))
            .collect();
        activities.shuffle(&mut rng);
        let skew_s = (role.has_unifiedlog() && rng.random_bool(0.12)).then(|| {
            let s = rng.random_range(20..=80) as f64 / 10.0;
            if rng.random_bool(0.5) {
                s
            } else {
                -s
            }
        });
        plans.push(HostPlan {
            name: format!("{}-{:03}", role.prefix(), h + 1),
            role,
            seed: mix(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (h as u64 + 1)),
            host_seed: mix(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (h as u64 + 1)),
            activities,
            skew_s,
            truncate: false,
        });
    }
    // At least one host of each robustness condition when the fleet has a host that can show it.
    if !plans.iter().any(|p| p.skew_s.is_some()) {
        if let Some(p) = plans.iter_mut().find(|p| p.role.has_unifiedlog()) {
            p.skew_s = Some(5.0);
        }
    }
    let want = n.div_ceil(25);
    let mut eligible: Vec<usize> = (0..n).filter(|&h| plans[h].role.has_eslogger()).collect();
    eligible.shuffle(&mut rng);
    for &h in eligible.iter().take(want) {
        plans[h].truncate = true;
    }
    plans
}

/// The plan of day `day` (0-based) of `days`: the host's name, role and routine families stay; the
/// routine's parameters and times are drawn afresh; an attack runs on the last day only; a truncated
/// last line ends only the last day's file.
fn plan_of_day(p: &HostPlan, day: u32, days: u32) -> HostPlan {
    let last = day + 1 == days.max(1);
    if day == 0 && last {
        return p.clone();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(mix(p.seed ^ (u64::from(day) << 40)));
    let mut q = p.clone();
    q.seed = mix(p.seed.wrapping_add(u64::from(day)));
    q.activities = p
        .activities
        .iter()
        .filter(|a| last || !a.attack())
        .map(|a| Activity::draw(a.family, &mut rng))
        .collect();
    q.activities.shuffle(&mut rng);
    q.truncate = p.truncate && last;
    q
}

/// Writes the fleet: each host's files (eslogger.jsonl, nettop.csv, unifiedlog.ndjson, osquery.log,
/// as its role dictates) in the spec's layout, one folder per host and day, and `dir/labels.jsonl`.
/// Returns the labels (day, host order, then time).
pub fn write_fleet(dir: &Path, spec: &FleetSpec) -> io::Result<Vec<Label>> {
    std::fs::create_dir_all(dir)?;
    let mut labels = Vec::new();
    for day in 0..spec.days.max(1) {
        let start = spec.start.add_secs(i64::from(day) * 86_400);
        let day_spec = FleetSpec {
            start,
            ..spec.clone()
        };
        let plans: Vec<HostPlan> = plan(spec)
            .iter()
            .map(|p| plan_of_day(p, day, spec.days))
            .collect();
        labels.extend(write_day(dir, &day_spec, &plans)?);
    }
    write_labels(&dir.join("labels.jsonl"), &labels)?;
    Ok(labels)
}

fn write_day(dir: &Path, spec: &FleetSpec, plans: &[HostPlan]) -> io::Result<Vec<Label>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, plans.len().max(1));
    // Hosts are independent (own seed, own files): any split over threads gives the same bytes.
    let results: Vec<(usize, io::Result<Vec<Label>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let plans = &plans;
                s.spawn(move || {
                    (k..plans.len())
                        .step_by(threads)
                        .map(|i| (i, write_host(dir, spec, &plans[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(_) => vec![(
                    usize::MAX,
                    Err(io::Error::other("a fleet generator thread panicked")),
                )],
            })
            .collect()
    });
    let mut results = results;
    results.sort_by_key(|(i, _)| *i);
    let mut labels = Vec::new();
    for (_, r) in results {
        labels.extend(r?);
    }
    Ok(labels)
}

fn write_host(dir: &Path, spec: &FleetSpec, p: &HostPlan) -> io::Result<Vec<Label>> {
    let mut rng = ChaCha8Rng::seed_from_u64(p.host_seed);
    let offsets = [
        0,
        2 * 3_600,
        -7 * 3_600,
        19_800,
        -4 * 3_600,
        3_600,
        -5 * 3_600,
    ];
    let users = ["alice", "bob", "maria", "kim", "dev", "sam", "li"];
    let opts = HostOpts {
        es_version: [9, 10, 11][rng.random_range(0..3)],
        // Without a unified log nothing tells nettop's zone: such hosts run on UTC.
        utc_offset_secs: if p.role.has_unifiedlog() {
            offsets[rng.random_range(0..offsets.len())]
        } else {
            0
        },
        seed: p.seed,
        nettop_columns: if rng.random_bool(0.25) {
            Columns::Default
        } else {
            Columns::Selected
        },
        user: match p.role {
            Role::BuildAgent => (502, "ci".to_string()),
            Role::Desktop => (501, "admin".to_string()),
            Role::Laptop => (501, users[rng.random_range(0..users.len())].to_string()),
        },
        nettop_interval_s: 1,
    };
    if p.seed != p.host_seed {
        // A later day: the same host, another day's draws.
        rng = ChaCha8Rng::seed_from_u64(p.seed);
    }
    let host_dir = spec.layout.dir(dir, &p.name, spec.start);
    let mut hf = HostFiles::create_named(&host_dir, &p.name, p.role.files(), opts)?;
    if p.role == Role::Desktop {
        hf.add_osquery()?;
    }
    // Scenarios with fixed pids: keep the allocator off them for the whole day.
    for pid in [6101, 6502, 7001] {
        hf.reserve_pid(pid);
    }
    let day0 = spec.start;
    let day_end = spec.start.add_secs(spec.duration_s.max(1));
    // Boot before the first activity, whichever runs first.
    hf.boot(day0);
    if let Some(s) = p.skew_s {
        hf.set_unifiedlog_skew(s);
    }
    // nettop samples all day (a frame every half hour or so, 1 s frames around activity): a capture
    // never goes silent for hours, as a continuous `nettop -L 0` would not.
    let mut t = day0.add_secs(rng.random_range(0..120));
    let first_sample = t;
    let mut last_sample = t;
    while t < day_end {
        hf.nettop_capture(t, t.add_nanos(999_999_999), 1);
        last_sample = t;
        t = t.add_secs(rng.random_range(1_500..2_100));
    }
    // The host's dated sources (eslogger, osquery, unified log) are busy all day too: readers date
    // nettop's rows by them, so they must not start hours after its first frame. A little of the
    // background at both ends stands for the rest.
    hf.background(first_sample, first_sample.add_secs(60));
    hf.background(last_sample.add_secs(-60), last_sample);
    let (uid, user) = hf.user();
    if p.role == Role::Laptop {
        let t = day0.add_secs(rng.random_range(60..600).min(spec.duration_s / 4));
        hf.log_login(t, &user, uid);
        hf.session(t.add_secs(1), "lw_session_login", &user);
    }

    // Slots: the usable span split evenly, one activity placed at random inside each.
    let lead = (spec.duration_s / 100).clamp(0, 300);
    let tail = (spec.duration_s / 50).clamp(0, 900);
    let usable = (spec.duration_s - lead - tail).max(1);
    let k = p.activities.len().max(1) as i64;
    let slot = usable / k;
    let mut labels = Vec::new();
    let (mut first, mut last) = (Ts::MAX, Ts::MIN);
    for (i, a) in p.activities.iter().enumerate() {
        // A short span (`duration_s` under a day): long routine activity shrinks to its slot; attacks
        // keep their length, so they stay clearly above the thresholds.
        let mut a = a.clone();
        let fit = (slot - 170) as f64;
        if !a.attack() && a.secs > fit {
            a.secs = fit.max(60.0);
        }
        let (pre, after) = a.footprint();
        let slot_start = day0.add_secs(lead + i as i64 * slot);
        let room = (slot - pre - after).max(0);
        let at = slot_start
            .add_secs(pre.min(slot) + rng.random_range(0..=room))
            .add_nanos(rng.random_range(0..1_000_000_000));
        let (act, note) = a.run(&mut hf, at);
        first = first.min(act.start);
        last = last.max(act.end);
        labels.push(Label {
            host: p.name.clone(),
            family: a.family.to_string(),
            attack: a.attack(),
            should_alert: a.should_alert(),
            subject_pid: act.subject_pid,
            subject_path: act.subject_path,
            start: act.start,
            end: act.end,
            note: format!("{}: {note}", p.role.name()),
        });
    }
    if first > last {
        (first, last) = (day0, day_end);
    }
    // The truncated line must be routine: end the file with a few background jobs after everything.
    if p.truncate {
        let t = last.max(last_sample).add_secs(60);
        hf.background(t, t.add_secs(150));
    }
    hf.finish()?;
    if let Some(s) = p.skew_s {
        labels.push(Label {
            host: p.name.clone(),
            family: "clock-skew".into(),
            attack: false,
            should_alert: false,
            subject_pid: None,
            subject_path: None,
            start: first,
            end: last,
            note: format!(
                "{}: unified log timestamps {s:+.1} s off the host's other sources; verdicts must not change",
                p.role.name()
            ),
        });
    }
    if p.truncate {
        let cut = truncate_last_line(&host_dir.join(ESLOGGER_FILE))?;
        labels.push(Label {
            host: p.name.clone(),
            family: "truncated-last-line".into(),
            attack: false,
            should_alert: false,
            subject_pid: None,
            subject_path: None,
            start: first,
            end: last,
            note: format!(
                "{}: eslogger.jsonl ends mid-line ({cut} bytes and the newline cut): one rejected \
                 line, \"truncated last line\"; verdicts must not change",
                p.role.name()
            ),
        });
    }
    labels.sort_by(|a, b| a.start.cmp(&b.start).then(a.family.cmp(&b.family)));
    Ok(labels)
}

/// Cuts the second half of the file's last line and its newline, as a collector killed mid-write
/// leaves it. Returns the bytes removed from the line.
fn truncate_last_line(path: &Path) -> io::Result<u64> {
    let data = std::fs::read(path)?;
    let body = data.strip_suffix(b"\n").unwrap_or(&data);
    let line_start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line_len = (body.len() - line_start) as u64;
    if line_len < 2 {
        return Ok(0);
    }
    let cut = line_len / 2;
    let keep = line_start as u64 + line_len - cut;
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(keep)?;
    Ok(cut)
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Writes labels as JSON lines: `{"host","family","attack","should_alert","subject_pid",
/// "subject_path","start","end","note"}`, times as RFC 3339 UTC with nanoseconds.
pub fn write_labels(path: &Path, labels: &[Label]) -> io::Result<()> {
    let mut w = io::BufWriter::new(std::fs::File::create(path)?);
    for l in labels {
        writeln!(
            w,
            "{{\"host\":{},\"family\":{},\"attack\":{},\"should_alert\":{},\"subject_pid\":{},\
             \"subject_path\":{},\"start\":\"{}\",\"end\":\"{}\",\"note\":{}}}",
            json_str(&l.host),
            json_str(&l.family),
            l.attack,
            l.should_alert,
            l.subject_pid.map_or("null".to_string(), |p| p.to_string()),
            l.subject_path
                .as_deref()
                .map_or("null".to_string(), json_str),
            rfc3339_nanos(l.start),
            rfc3339_nanos(l.end),
            json_str(&l.note),
        )?;
    }
    w.flush()
}

/// Reads what [`write_labels`] writes. A malformed line is an `InvalidData` error naming its line.
pub fn read_labels(path: &Path) -> io::Result<Vec<Label>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}:{}: {why}", path.display(), i + 1),
            )
        };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let text_of = |k: &str| v.get(k).and_then(|x| x.as_str());
        let need = |k: &str| {
            text_of(k)
                .map(str::to_string)
                .ok_or_else(|| bad(format!("missing or non-string {k:?}")))
        };
        let flag = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_bool())
                .ok_or_else(|| bad(format!("missing or non-boolean {k:?}")))
        };
        let time = |k: &str| {
            text_of(k)
                .and_then(parse_rfc3339)
                .ok_or_else(|| bad(format!("{k:?} must be an RFC 3339 time")))
        };
        let subject_pid = match v.get("subject_pid") {
            None | Some(serde_json::Value::Null) => None,
            Some(x) => Some(
                x.as_i64()
                    .and_then(|p| i32::try_from(p).ok())
                    .ok_or_else(|| bad("\"subject_pid\" must be a pid or null".into()))?,
            ),
        };
        out.push(Label {
            host: need("host")?,
            family: need("family")?,
            attack: flag("attack")?,
            should_alert: flag("should_alert")?,
            subject_pid,
            subject_path: text_of("subject_path").map(str::to_string),
            start: time("start")?,
            end: time("end")?,
            note: text_of("note").unwrap_or_default().to_string(),
        });
    }
    Ok(out)
}
