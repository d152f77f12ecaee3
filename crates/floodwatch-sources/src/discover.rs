//! Input discovery: expand the user's paths into files, each with the host it belongs to.
//! The host is the name of the directory that holds the file (one folder per host), unless `--host`.
//! Folders named like a date (`2025-09-16`, `20250916`) or generically (`logs`, `eslogger`, ...)
//! are skipped upwards: `mac-01/2025-09-16/es.jsonl` belongs to `mac-01`.

use floodwatch_core::{Error, Result};
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputFile {
    pub host: String,
    pub path: PathBuf,
    /// Not a regular file (a FIFO, `/dev/fd/N` of a process substitution, a character device), named
    /// by the user: read once as a stream, never reopened, probed or seeked.
    pub stream: bool,
}

/// Something found and not read, with the reason: listed in the run summary, never fatal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedInput {
    pub path: PathBuf,
    pub reason: String,
}

/// What a walk over the user's paths found.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    pub files: Vec<InputFile>,
    pub skipped: Vec<SkippedInput>,
}

/// The reason a FIFO met inside a folder is not read (opening it would block, or steal a writer's data).
pub const FIFO_IN_FOLDER: &str =
    "a FIFO inside a folder is not read: give it as a path to read it as a stream";

/// Expands files and directories (recursively, in sorted order so runs are deterministic).
/// A path that does not exist is an error: the user named it. What is met and not read inside
/// folders is dropped here; [`discover_inputs`] lists it.
pub fn discover(paths: &[PathBuf], host_override: Option<&str>) -> Result<Vec<InputFile>> {
    Ok(discover_inputs(paths, host_override)?.files)
}

/// [`discover`], with what was skipped and why: symlinks leading back into a folder being read (a
/// loop) or to a file or folder read already, broken symlinks, folders that cannot be listed, FIFOs
/// and other special files inside folders. Each real file (device and inode) is read once, through
/// the first path found for it, real paths before symlinks.
pub fn discover_inputs(paths: &[PathBuf], host_override: Option<&str>) -> Result<Discovery> {
    let mut w = Walker::default();
    for p in paths {
        let meta =
            std::fs::metadata(p).map_err(|e| Error::io(format!("input {}", p.display()), e))?;
        if meta.is_dir() {
            w.walk(p.clone(), &meta);
        } else if meta.is_file() {
            w.file(p, &meta, false);
        } else {
            // Named by the user: a pipe or a device is what they mean to read.
            w.stream(p, &meta);
        }
    }
    // Symlinks last, so a file or folder reached both ways is read under its real path; a link's
    // folder may hold more links, read in the next round.
    while !w.links.is_empty() {
        let mut links = std::mem::take(&mut w.links);
        links.sort();
        for p in links {
            w.link(&p);
        }
    }
    let mut files = w.files;
    files.sort();
    let mut skipped = w.skipped;
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Discovery {
        files: files
            .into_iter()
            .map(|(path, stream)| InputFile {
                host: host_override
                    .map(str::to_string)
                    .unwrap_or_else(|| host_of(&path)),
                path,
                stream,
            })
            .collect(),
        skipped,
    })
}

/// A file or folder's identity: a hard link, a symlink or an overlapping path all lead to the same.
fn key(m: &Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

#[derive(Default)]
struct Walker {
    files: Vec<(PathBuf, bool)>,
    skipped: Vec<SkippedInput>,
    /// Real files and folders taken, by identity, with the path they were taken under.
    seen_files: HashMap<(u64, u64), PathBuf>,
    seen_dirs: HashMap<(u64, u64), PathBuf>,
    /// Symlinks met inside folders, followed once the real paths are walked.
    links: Vec<PathBuf>,
}

impl Walker {
    fn skip(&mut self, path: &Path, reason: String) {
        self.skipped.push(SkippedInput {
            path: path.to_path_buf(),
            reason,
        });
    }

    /// A second path to something already taken is listed when it is another name for it (a hard
    /// link, a mount seen twice); the same place named twice by overlapping arguments is not.
    fn duplicate(&mut self, path: &Path, first: &Path, what: &str) {
        let same_place = match (std::fs::canonicalize(path), std::fs::canonicalize(first)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same_place {
            self.skip(
                path,
                format!(
                    "same {what} as {} (a hard link or a mount): read once, there",
                    first.display()
                ),
            );
        }
    }

    fn file(&mut self, path: &Path, meta: &Metadata, stream: bool) {
        if let Some(first) = self.seen_files.get(&key(meta)).cloned() {
            self.duplicate(path, &first, "file");
            return;
        }
        self.seen_files.insert(key(meta), path.to_path_buf());
        self.files.push((path.to_path_buf(), stream));
    }

    fn stream(&mut self, path: &Path, meta: &Metadata) {
        self.file(path, meta, true);
    }

    /// Walks a folder and every real folder under it (an explicit stack: no recursion depth to run
    /// out of), each once.
    fn walk(&mut self, root: PathBuf, meta: &Metadata) {
        if let Some(first) = self.seen_dirs.get(&key(meta)).cloned() {
            self.duplicate(&root, &first, "folder");
            return;
        }
        self.seen_dirs.insert(key(meta), root.clone());
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let listing = std::fs::read_dir(&dir).map(|rd| rd.collect::<Vec<_>>());
            let entries = self.listed(&dir, listing);
            // Reversed onto the stack so folders are walked in sorted order.
            let mut subdirs = Vec::new();
            for p in entries {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with('.') {
                    continue; // .DS_Store, editor swap files, .git
                }
                let meta = match std::fs::symlink_metadata(&p) {
                    Ok(m) => m,
                    Err(e) => {
                        self.skip(&p, format!("cannot read: {e}"));
                        continue;
                    }
                };
                let ft = meta.file_type();
                if ft.is_symlink() {
                    self.links.push(p);
                } else if ft.is_dir() {
                    if let Some(first) = self.seen_dirs.get(&key(&meta)).cloned() {
                        self.duplicate(&p, &first, "folder");
                    } else {
                        self.seen_dirs.insert(key(&meta), p.clone());
                        subdirs.push(p);
                    }
                } else {
                    self.entry(&p, &meta);
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
    }

    /// A folder's entries, sorted; a folder that cannot be listed (no permission, gone, not a folder
    /// after all) is listed as skipped and the walk goes on, as for a file that cannot be read.
    fn listed(
        &mut self,
        dir: &Path,
        listing: std::io::Result<Vec<std::io::Result<std::fs::DirEntry>>>,
    ) -> Vec<PathBuf> {
        let entries = match listing {
            Ok(entries) => entries,
            Err(e) => {
                self.skip(dir, format!("cannot list folder: {e}"));
                return Vec::new();
            }
        };
        let mut paths = Vec::new();
        let mut failed = None;
        for e in entries {
            match e {
                Ok(e) => paths.push(e.path()),
                Err(e) => failed = Some(e),
            }
        }
        if let Some(e) = failed {
            self.skip(dir, format!("folder only partly listed: {e}"));
        }
        paths.sort();
        paths
    }

    /// A non-directory, non-symlink entry of a folder.
    fn entry(&mut self, p: &Path, meta: &Metadata) {
        let ft = meta.file_type();
        if ft.is_file() {
            self.file(p, meta, false);
        } else if ft.is_fifo() {
            self.skip(p, FIFO_IN_FOLDER.into());
        } else {
            let kind = if ft.is_socket() {
                "a socket"
            } else if ft.is_char_device() {
                "a character device"
            } else if ft.is_block_device() {
                "a block device"
            } else {
                "not a regular file"
            };
            self.skip(
                p,
                format!("{kind} inside a folder is not read: give it as a path to read it"),
            );
        }
    }

    /// A symlink met inside a folder, followed after the real paths.
    fn link(&mut self, p: &Path) {
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.skip(p, "broken symlink: its target does not exist".into());
                return;
            }
            Err(e) => {
                self.skip(p, format!("symlink not followed: {e}"));
                return;
            }
        };
        if !meta.is_dir() {
            match self.seen_files.get(&key(&meta)).cloned() {
                Some(first) => self.skip(
                    p,
                    format!(
                        "symlink to a file read already ({}): read once, there",
                        first.display()
                    ),
                ),
                None => self.entry(p, &meta),
            }
            return;
        }
        match self.seen_dirs.get(&key(&meta)).cloned() {
            Some(first) => {
                // A link to a folder it is inside (`.`, `..`) would walk forever.
                let inside = match (
                    std::fs::canonicalize(p),
                    p.parent().map(std::fs::canonicalize),
                ) {
                    (Ok(target), Some(Ok(parent))) => parent.starts_with(&target),
                    _ => false,
                };
                let reason = if inside {
                    format!(
                        "symlink loop: leads back to {}, a folder it is inside; not followed",
                        first.display()
                    )
                } else {
                    format!(
                        "symlink to a folder read already ({}): read once, there",
                        first.display()
                    )
                };
                self.skip(p, reason);
            }
            None => self.walk(p.to_path_buf(), &meta),
        }
    }
}

/// The name of the directory holding the file; "unknown-host" when there is none.
pub fn host_of(path: &Path) -> String {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = match parent {
        Some(p) => std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()),
        None => std::env::current_dir().unwrap_or_default(),
    };
    let names: Vec<&str> = parent
        .ancestors()
        .take(4)
        .filter_map(|a| a.file_name().and_then(|n| n.to_str()))
        .collect();
    names
        .iter()
        .find(|n| !is_not_a_host(n))
        .or(names.first())
        .map(|n| n.to_string())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// A calendar date written in the file's name or in one of the (up to three) folders above it, nearest
/// first: `nettop-20261001.csv`, `2026-10-01/`, `2026_10_01`, `2026.10.01`. Returns midnight UTC of that
/// day and where it was found ("file name nettop-20261001.csv", "folder 2026-10-01"). A dateless
/// source (nettop) collected one folder per day takes its day from here.
pub fn date_in_path(path: &Path) -> Option<(floodwatch_core::Ts, String)> {
    let name = path.file_name().and_then(|n| n.to_str());
    if let Some(d) = name.and_then(date_in_name) {
        return Some((d, format!("file name {}", name.unwrap_or_default())));
    }
    path.ancestors()
        .skip(1)
        .take(3)
        .filter_map(|a| a.file_name().and_then(|n| n.to_str()))
        .find_map(|n| date_in_name(n).map(|d| (d, format!("folder {n}"))))
}

/// The first `YYYY-MM-DD` (or `YYYYMMDD`, `_` or `.` separated) in a name that is a real date between
/// 2000 and 2099, not part of a longer run of digits.
fn date_in_name(name: &str) -> Option<floodwatch_core::Ts> {
    use floodwatch_core::time::{civil_from_days, days_from_civil, NANOS_PER_DAY};
    let b = name.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let num = |from: usize, n: usize| -> Option<u32> {
        let s = b.get(from..from + n)?;
        s.iter()
            .all(u8::is_ascii_digit)
            .then(|| s.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
    };
    for start in 0..b.len() {
        if start > 0 && digit(start - 1) {
            continue;
        }
        for sep in [b'-', b'_', b'.', 0] {
            let w = usize::from(sep != 0);
            let (y, m, d) = (start, start + 4 + w, start + 6 + 2 * w);
            let end = d + 2;
            if sep != 0 && (b.get(start + 4) != Some(&sep) || b.get(start + 6 + w) != Some(&sep)) {
                continue;
            }
            let (Some(y), Some(mo), Some(day)) = (num(y, 4), num(m, 2), num(d, 2)) else {
                continue;
            };
            if digit(end) || !(2000..2100).contains(&y) || !(1..=12).contains(&mo) {
                continue;
            }
            let days = days_from_civil(i64::from(y), mo, day);
            // 2026-02-31 is not a date: the round trip says so.
            if day == 0 || civil_from_days(days) != (i64::from(y), mo, day) {
                continue;
            }
            return Some(floodwatch_core::Ts(days * NANOS_PER_DAY));
        }
    }
    None
}

/// Folder names that organize a host's files rather than name the host.
fn is_not_a_host(name: &str) -> bool {
    const GENERIC: &[&str] = &[
        "logs",
        "log",
        "data",
        "raw",
        "telemetry",
        "collected",
        "eslogger",
        "nettop",
        "unifiedlog",
        "unified_log",
        "unified-log",
        "osquery",
    ];
    let date_like = name.chars().any(|c| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | ':' | 'T'));
    date_like || GENERIC.contains(&name.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_paths_nearest_first() {
        let d = |p: &str| date_in_path(Path::new(p)).map(|(t, w)| (t.to_rfc3339_millis(), w));
        assert_eq!(
            d("c/mac-01/2026-10-01/nettop.csv"),
            Some((
                "2026-10-01T00:00:00.000Z".into(),
                "folder 2026-10-01".into()
            ))
        );
        assert_eq!(
            d("c/2026_10_02/mac-01/nettop.csv"),
            Some((
                "2026-10-02T00:00:00.000Z".into(),
                "folder 2026_10_02".into()
            ))
        );
        // The file's own name is nearer than its folder.
        assert_eq!(
            d("c/2026-10-01/mac-01/nettop-20261003.csv").map(|x| x.1),
            Some("file name nettop-20261003.csv".into())
        );
        // Not dates: a longer digit run, an impossible day, a version number, nothing.
        assert_eq!(d("c/mac-01/run-1202610011/nettop.csv"), None);
        assert_eq!(d("c/mac-01/2026-02-31/nettop.csv"), None);
        assert_eq!(d("c/mac-01/v1.2.3/nettop.csv"), None);
        assert_eq!(d("nettop.csv"), None);
    }

    #[test]
    fn host_is_the_holding_directory_unless_overridden() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("mac-01")).unwrap();
        std::fs::create_dir_all(d.path().join("mac-02")).unwrap();
        std::fs::write(d.path().join("mac-01/es.jsonl"), "x").unwrap();
        std::fs::write(d.path().join("mac-02/nettop.csv"), "x").unwrap();
        std::fs::write(d.path().join("mac-02/.DS_Store"), "x").unwrap();
        let got = discover(&[d.path().to_path_buf()], None).unwrap();
        let hosts: Vec<&str> = got.iter().map(|f| f.host.as_str()).collect();
        assert_eq!(hosts, vec!["mac-01", "mac-02"]);
        let forced = discover(&[d.path().to_path_buf()], Some("h")).unwrap();
        assert!(forced.iter().all(|f| f.host == "h"));
        assert!(discover(&[d.path().join("missing")], None).is_err());
    }

    #[test]
    fn date_and_generic_folders_under_a_host_folder_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        for p in [
            "mac-01/2025-09-16",
            "mac-02/2025-09-16",
            "mac-03/logs/eslogger",
        ] {
            std::fs::create_dir_all(d.path().join(p)).unwrap();
            std::fs::write(d.path().join(p).join("es.jsonl"), "x").unwrap();
        }
        let got = discover(&[d.path().to_path_buf()], None).unwrap();
        let hosts: Vec<&str> = got.iter().map(|f| f.host.as_str()).collect();
        assert_eq!(hosts, vec!["mac-01", "mac-02", "mac-03"]);
    }

    fn symlink(target: &str, link: &Path) {
        std::os::unix::fs::symlink(target, link).unwrap();
    }

    fn reasons(d: &Discovery) -> Vec<(String, String)> {
        d.skipped
            .iter()
            .map(|s| {
                let name = s.path.file_name().unwrap().to_string_lossy().into_owned();
                (name, s.reason.clone())
            })
            .collect()
    }

    /// `dot -> .` made the old walk read `mac-01/dot/dot/.../es.jsonl` until the kernel's symlink
    /// limit: the same file 41 times, merged into one host.
    #[test]
    fn a_symlink_to_its_own_folder_reads_each_file_once() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("mac-01");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("es.jsonl"), "x").unwrap();
        symlink(".", &host.join("dot"));
        let got = discover_inputs(&[d.path().to_path_buf()], None).unwrap();
        assert_eq!(got.files.len(), 1);
        assert_eq!(got.files[0].path, host.join("es.jsonl"));
        let r = reasons(&got);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, "dot");
        assert!(r[0].1.starts_with("symlink loop: leads back to"), "{r:?}");
    }

    /// Links to both `.` and `..` made the old walk exponential (no output, memory growing until
    /// killed). This returns, with each file once and both links listed.
    #[test]
    fn symlinks_to_dot_and_dotdot_end_and_read_each_file_once() {
        let d = tempfile::tempdir().unwrap();
        for h in ["mac-01", "mac-02"] {
            let host = d.path().join(h);
            std::fs::create_dir_all(&host).unwrap();
            std::fs::write(host.join("es.jsonl"), "x").unwrap();
            std::fs::write(host.join("nettop.csv"), "x").unwrap();
            symlink(".", &host.join("dot"));
            symlink("..", &host.join("up"));
        }
        let got = discover_inputs(&[d.path().to_path_buf()], None).unwrap();
        let files: Vec<String> = got
            .files
            .iter()
            .map(|f| {
                format!(
                    "{}:{}",
                    f.host,
                    f.path.file_name().unwrap().to_string_lossy()
                )
            })
            .collect();
        assert_eq!(
            files,
            [
                "mac-01:es.jsonl",
                "mac-01:nettop.csv",
                "mac-02:es.jsonl",
                "mac-02:nettop.csv"
            ]
        );
        let r = reasons(&got);
        assert_eq!(r.len(), 4, "{r:?}");
        assert!(
            r.iter().all(|(_, why)| why.starts_with("symlink loop")),
            "{r:?}"
        );
    }

    #[test]
    fn links_to_what_is_read_already_are_listed_and_real_paths_win() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("mac-01");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("z-real.jsonl"), "x").unwrap();
        // Sorted before the real file, still not the path it is read under.
        symlink("z-real.jsonl", &host.join("a-link.jsonl"));
        std::fs::hard_link(host.join("z-real.jsonl"), host.join("hard.jsonl")).unwrap();
        symlink("missing.jsonl", &host.join("broken.jsonl"));
        symlink("self", &host.join("self"));
        let got = discover_inputs(&[d.path().to_path_buf()], None).unwrap();
        assert_eq!(got.files.len(), 1, "{:?}", got.files);
        let r = reasons(&got);
        let why = |n: &str| {
            r.iter()
                .find(|(name, _)| name == n)
                .map(|x| x.1.clone())
                .unwrap()
        };
        assert!(why("a-link.jsonl").starts_with("symlink to a file read already"));
        assert!(why("broken.jsonl").starts_with("broken symlink"));
        assert!(why("self").starts_with("symlink not followed"));
        // The hard link sorts first and is read; the other name is listed.
        assert_eq!(got.files[0].path, host.join("hard.jsonl"));
        assert!(why("z-real.jsonl").contains("hard link"));
        // The same folder given twice is read once, silently.
        let twice = discover_inputs(&[d.path().to_path_buf(), host.clone()], None).unwrap();
        assert_eq!(twice.files.len(), 1);
        assert_eq!(twice.skipped.len(), r.len());
    }

    /// An unreadable folder made the old walk abort the whole run. Tests run as root here, where
    /// `chmod 000` does not stop reading, so the folder-listing error path is driven two other ways:
    /// the handler is given a permission error, and the walk is pointed at a path that is not a folder
    /// (a real `read_dir` failure). The CLI test `unreadable_subfolder_is_listed_and_skipped` runs the
    /// hunt as an unprivileged user for the real thing.
    #[test]
    fn a_folder_that_cannot_be_listed_is_skipped_not_fatal() {
        let mut w = Walker::default();
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(w
            .listed(Path::new("/x/mac-01/private"), Err(denied))
            .is_empty());
        assert_eq!(w.skipped.len(), 1);
        assert!(w.skipped[0]
            .reason
            .starts_with("cannot list folder: permission denied"));

        let d = tempfile::tempdir().unwrap();
        let not_dir = d.path().join("file");
        std::fs::write(&not_dir, "x").unwrap();
        let meta = std::fs::metadata(d.path()).unwrap();
        let mut w = Walker::default();
        w.walk(not_dir.clone(), &meta);
        assert!(w.files.is_empty());
        assert_eq!(w.skipped[0].path, not_dir);
        assert!(w.skipped[0].reason.starts_with("cannot list folder"));
    }

    #[test]
    fn fifos_in_folders_are_listed_and_fifos_given_are_streams() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("mac-01");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("es.jsonl"), "x").unwrap();
        let fifo = host.join("live.pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let _sock = std::os::unix::net::UnixListener::bind(host.join("agent.sock")).unwrap();
        let got = discover_inputs(&[d.path().to_path_buf()], None).unwrap();
        assert_eq!(got.files.len(), 1);
        assert!(!got.files[0].stream);
        let r = reasons(&got);
        assert_eq!(
            r[0],
            (
                "agent.sock".to_string(),
                "a socket inside a folder is not read: give it as a path to read it".to_string()
            )
        );
        assert_eq!(r[1], ("live.pipe".to_string(), FIFO_IN_FOLDER.to_string()));
        let given = discover_inputs(std::slice::from_ref(&fifo), None).unwrap();
        assert_eq!(given.files.len(), 1);
        assert!(given.files[0].stream);
        assert_eq!(given.files[0].host, "mac-01");
    }
}
