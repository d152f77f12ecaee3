//! Two hosts over many days, for baselines: `mac-up` makes its usual Aspera upload every afternoon
//! (hot by the absolute byte threshold, routine for it), `mac-sib` checks in with MDM; on the last day,
//! if asked, `mac-sib` sends a UDP flood of the same volume from a python one-liner seen only in nettop
//! (its `udp4` socket rows make it UDP). Written in any [`Layout`], with its labels.

use crate::families::{self, Act};
use crate::fleet::{write_labels, Label, Layout};
use crate::host::{Files, HostFiles, HostOpts};
use crate::nettop::Columns;
use crate::scenario;
use crate::util::mix;
use floodwatch_core::Ts;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io;
use std::path::Path;

/// The uploader and its sibling.
pub const UPLOADER: &str = "mac-up";
pub const SIBLING: &str = "mac-sib";
/// The upload's (and the flood's) volume, bytes per second.
pub const UPLOAD_BYTES_PER_S: u64 = 20_000_000;
/// Both hosts' zone (seconds east of UTC): their days, and day folders, are local days.
pub const UTC_OFFSET_S: i32 = -4 * 3_600;

/// Writes `days` days from `first_day` (its date) under `dir` in `layout`, and `dir/labels.jsonl`. Each
/// day runs from local midnight to local midnight (UTC−4) and its folder is named by that local date, as
/// a collector that rotates at midnight names it.
pub fn write_uploads(
    dir: &Path,
    layout: Layout,
    first_day: Ts,
    days: u32,
    flood_on_last_day: bool,
) -> io::Result<Vec<Label>> {
    let mut labels = Vec::new();
    for day in 0..days {
        let day0 = first_day.add_secs(i64::from(day) * 86_400 - i64::from(UTC_OFFSET_S));
        let last = day + 1 == days;
        for (h, host) in [UPLOADER, SIBLING].into_iter().enumerate() {
            let seed = mix(0xF0_27 ^ ((h as u64) << 32) ^ u64::from(day));
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let opts = HostOpts {
                es_version: 10,
                utc_offset_secs: UTC_OFFSET_S,
                seed,
                nettop_columns: Columns::Selected,
                user: (501, if h == 0 { "maria" } else { "kim" }.to_string()),
                nettop_interval_s: 1,
            };
            let mut hf =
                HostFiles::create_named(&layout.dir(dir, host, day0), host, Files::ALL, opts)?;
            hf.reserve_pid(6101);
            hf.boot(day0);
            // nettop samples all day, a frame every half hour or so; the dated sources are busy at
            // both ends too (the host's day, not one burst).
            let mut t = day0.add_secs(rng.random_range(0..120));
            let first_sample = t;
            let mut last_sample = t;
            while t < day0.add_secs(86_400 - 600) {
                hf.nettop_capture(t, t.add_nanos(999_999_999), 1);
                last_sample = t;
                t = t.add_secs(rng.random_range(1_500..2_100));
            }
            hf.background(first_sample, first_sample.add_secs(60));
            hf.background(last_sample.add_secs(-60), last_sample);
            let mut push = |family: &str, attack: bool, a: Act, note: String| {
                labels.push(Label {
                    host: host.to_string(),
                    family: family.to_string(),
                    attack,
                    should_alert: attack,
                    subject_pid: a.subject_pid,
                    subject_path: a.subject_path,
                    start: a.start,
                    end: a.end,
                    note,
                })
            };
            let checkin = day0.add_secs(rng.random_range(9 * 3_600..10 * 3_600));
            let a = families::mdm_checkin(&mut hf, checkin, 1_200, 240);
            push(
                "mdm-checkin",
                false,
                a,
                "mdmclient checks in every 240 s".into(),
            );
            if h == 0 {
                let at = day0
                    .add_secs(rng.random_range(14 * 3_600..15 * 3_600))
                    .add_nanos(rng.random_range(0..1_000_000_000));
                let a = families::aspera_upload(&mut hf, at, 600.0, UPLOAD_BYTES_PER_S);
                push(
                    "daily-upload",
                    false,
                    a,
                    "the usual afternoon Aspera upload, 20 MB/s of UDP for 600 s".into(),
                );
            } else if last && flood_on_last_day {
                let at = day0.add_secs(15 * 3_600 + rng.random_range(0..1_800));
                let a: Act =
                    scenario::python_udp_flood(&mut hf, at, 90.0, UPLOAD_BYTES_PER_S).into();
                push(
                    "python-udp-flood",
                    true,
                    a,
                    "python3 (nettop only, udp4 socket) sends 20 MB/s of UDP for 90 s".into(),
                );
            }
            hf.finish()?;
        }
    }
    labels.sort_by(|a, b| a.start.cmp(&b.start).then(a.host.cmp(&b.host)));
    write_labels(&dir.join("labels.jsonl"), &labels)?;
    Ok(labels)
}
