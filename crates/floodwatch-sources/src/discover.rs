//! Input discovery: expand the user's paths into files, each with the host it belongs to.
//! The host is the name of the directory that holds the file (one folder per host), unless `--host`.
//! Folders named like a date (`2025-09-16`, `20250916`) or generically (`logs`, `eslogger`, ...)
//! are skipped upwards: `mac-01/2025-09-16/es.jsonl` belongs to `mac-01`.

use floodwatch_core::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputFile {
    pub host: String,
    pub path: PathBuf,
}

/// Expands files and directories (recursively, in sorted order so runs are deterministic).
/// A path that does not exist is an error: the user named it.
pub fn discover(paths: &[PathBuf], host_override: Option<&str>) -> Result<Vec<InputFile>> {
    let mut files = Vec::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).map_err(|e| Error::io(format!("input {}", p.display()), e))?;
        if meta.is_dir() {
            walk(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    files.sort();
    files.dedup();
    Ok(files
        .into_iter()
        .map(|path| InputFile {
            host: host_override
                .map(str::to_string)
                .unwrap_or_else(|| host_of(&path)),
            path,
        })
        .collect())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue; // .DS_Store, editor swap files, .git
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
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
}
