//! Signals: a window's counts as rates per second, judged against the `[thresholds]`. A window is hot
//! when a measured rate reaches its threshold, or a command line declares a flood; the measured signal
//! nearest its threshold is kept either way (a quiet host's verdict names it).

use super::acc::WindowAcc;
use floodwatch_core::config::Config;
use floodwatch_core::Ts;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    Spawns,
    Packets,
    Bytes,
    Connections,
    Declared,
}

#[derive(Clone, Debug)]
pub struct WindowSignals {
    pub start: Ts,
    pub spawns_per_s: f64,
    pub packets_per_s: f64,
    pub weighted_packets_per_s: f64,
    pub bytes_per_s: f64,
    pub weighted_bytes_per_s: f64,
    pub connections_per_s: f64,
    /// (trigger, value / threshold), strongest first.
    pub triggers: Vec<(Trigger, f64)>,
    pub top_destination: Option<(String, f64)>,
    /// The measured signal nearest its threshold (trigger, value, threshold), hot or not.
    pub closest: Option<(Trigger, f64, f64)>,
}

impl WindowSignals {
    pub fn hot(&self) -> bool {
        !self.triggers.is_empty()
    }

    pub fn evaluate(cfg: &Config, start: Ts, acc: &WindowAcc) -> WindowSignals {
        let w = cfg.window_secs() as f64;
        let t = &cfg.thresholds;
        let spawns_per_s = acc.spawns as f64 / w;
        let weighted_packets_per_s = acc.weighted_packets_total() / w;
        let weighted_bytes_per_s = acc.weighted_bytes_total() / w;
        let connections_per_s = acc.connections as f64 / w;
        let mut triggers = Vec::new();
        let mut closest: Option<(Trigger, f64, f64)> = None;
        for (trig, v, thr) in [
            (Trigger::Spawns, spawns_per_s, t.tool_spawns_per_s),
            (Trigger::Packets, weighted_packets_per_s, t.packets_per_s),
            (Trigger::Bytes, weighted_bytes_per_s, t.bytes_per_s),
            (Trigger::Connections, connections_per_s, t.connections_per_s),
        ] {
            if v >= thr {
                triggers.push((trig, v / thr));
            }
            if v > 0.0 && thr > 0.0 && closest.is_none_or(|(_, cv, ct)| v / thr > cv / ct) {
                closest = Some((trig, v, thr));
            }
        }
        if acc.declared.is_some() {
            triggers.push((Trigger::Declared, 0.0));
        }
        triggers.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let total: f64 = acc.destinations.values().sum();
        let top_destination = acc
            .destinations
            .iter()
            .filter(|(k, _)| k.as_str() != "(other)")
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .filter(|_| total > 0.0)
            .map(|(k, v)| (k.clone(), v / total));
        WindowSignals {
            start,
            spawns_per_s,
            packets_per_s: acc.packets() / w,
            weighted_packets_per_s,
            bytes_per_s: acc.bytes() / w,
            weighted_bytes_per_s,
            connections_per_s,
            triggers,
            top_destination,
            closest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::event::Proto;

    #[test]
    fn thresholds_and_weights() {
        let cfg = Config::default();
        let mut acc = WindowAcc::default();
        for _ in 0..(5 * 30) {
            acc.add_spawn("/usr/bin/curl", 1);
        }
        let s = WindowSignals::evaluate(&cfg, Ts(0), &acc);
        assert_eq!(s.triggers[0].0, Trigger::Spawns);
        let mut quiet = WindowAcc::default();
        for _ in 0..(5 * 30 - 1) {
            quiet.add_spawn("/usr/bin/curl", 1);
        }
        assert!(!WindowSignals::evaluate(&cfg, Ts(0), &quiet).hot());
        // 20 MB/s of TCP is a transfer, 20 MB/s of UDP is a flood.
        let mut tcp = WindowAcc::default();
        tcp.add_traffic(
            &cfg,
            1,
            Proto::Tcp,
            Some("10.0.0.20:445"),
            20e6 * 30.0,
            None,
            1,
        );
        assert!(!WindowSignals::evaluate(&cfg, Ts(0), &tcp).hot());
        let mut udp = WindowAcc::default();
        udp.add_traffic(
            &cfg,
            1,
            Proto::Udp,
            Some("198.51.100.9:53"),
            20e6 * 30.0,
            None,
            1,
        );
        let s = WindowSignals::evaluate(&cfg, Ts(0), &udp);
        assert_eq!(s.triggers[0].0, Trigger::Bytes);
        assert_eq!(s.top_destination.as_ref().unwrap().0, "198.51.100.9");
    }
}
