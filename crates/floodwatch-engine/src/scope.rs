//! Scope: which processes can be a flood subject, and the name lists that classify them.
//! Apple platform binaries that are neither network tools nor script runners (backupd, softwareupdated,
//! cloudd) are never subjects: high volume from them is not a flood by itself.

use floodwatch_core::config::Scope as ScopeConfig;
use floodwatch_core::event::{basename, ProcInfo, SignatureClass};
use globset::{Glob, GlobSet, GlobSetBuilder};

pub struct Scope {
    tools: GlobSet,
    runners: GlobSet,
    suspicious: GlobSet,
    platform_names: GlobSet,
    include_non_platform: bool,
    terminal_apps: Vec<String>,
}

fn set(patterns: &[String], what: &str) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| format!("scope.{what}: bad pattern {p:?}: {e}"))?);
    }
    b.build().map_err(|e| format!("scope.{what}: {e}"))
}

/// Locations Apple ships binaries in; an unsigned-looking path here is still Apple's.
const SYSTEM_PREFIXES: &[&str] = &[
    "/System/",
    "/usr/libexec/",
    "/usr/sbin/",
    "/usr/bin/",
    "/bin/",
    "/sbin/",
    "/Library/Apple/",
];

impl Scope {
    pub fn new(cfg: &ScopeConfig) -> Result<Scope, String> {
        Ok(Scope {
            tools: set(&cfg.network_tools, "network_tools")?,
            runners: set(&cfg.script_runners, "script_runners")?,
            suspicious: set(&cfg.suspicious_paths, "suspicious_paths")?,
            platform_names: set(&cfg.platform_names, "platform_names")?,
            include_non_platform: cfg.include_non_platform,
            terminal_apps: cfg.terminal_apps.clone(),
        })
    }

    /// Login shells show as `-zsh`; the dash is not part of the name.
    fn norm(name: &str) -> &str {
        name.trim_start_matches('-')
    }

    /// A terminal application (by executable basename).
    pub fn is_terminal_app(&self, name: &str) -> bool {
        self.terminal_apps.iter().any(|t| t == name)
    }

    pub fn is_tool(&self, name: &str) -> bool {
        self.tools.is_match(Self::norm(name))
    }

    pub fn is_runner(&self, name: &str) -> bool {
        self.runners.is_match(Self::norm(name))
    }

    /// The display name of a process: its path's basename, else argv[0]'s (nettop-only processes).
    pub fn name_of(info: &ProcInfo) -> Option<&str> {
        info.basename().or_else(|| {
            info.args
                .as_ref()
                .and_then(|a| a.first())
                .map(|s| basename(s))
        })
    }

    /// Whether a process may be (part of) a flood subject.
    pub fn in_scope(&self, info: &ProcInfo) -> bool {
        let Some(name) = Self::name_of(info) else {
            return false;
        };
        if self.is_tool(name) || self.is_runner(name) {
            return true;
        }
        if !self.include_non_platform {
            return false;
        }
        match info.signing.class() {
            SignatureClass::Platform => false,
            SignatureClass::Developer | SignatureClass::AdHoc | SignatureClass::Unsigned => true,
            // No signing facts (a traffic-only source): judge by where it lives, if we know.
            SignatureClass::Unknown => match info.path.as_deref() {
                Some(p) => !SYSTEM_PREFIXES.iter().any(|s| p.starts_with(s)),
                // Only a (possibly truncated) name: in scope unless it names a routine Apple daemon.
                None => !self.platform_names.is_match(name),
            },
        }
    }

    /// A dropped tool's typical home: user-writable folders, or any hidden path component.
    pub fn suspicious_path<'a>(&self, path: &'a str) -> Option<&'a str> {
        let hidden = path
            .split('/')
            .any(|c| c.starts_with('.') && c.len() > 1 && c != "..");
        (hidden || self.suspicious.is_match(path)).then_some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floodwatch_core::config::Config;
    use floodwatch_core::event::Signing;

    fn p(path: &str, platform: Option<bool>, flags: Option<u32>, team: Option<&str>) -> ProcInfo {
        ProcInfo {
            pid: 1,
            path: Some(path.into()),
            signing: Signing {
                platform_binary: platform,
                cs_flags: flags,
                team_id: team.map(std::sync::Arc::from),
                signing_id: Some("x".into()),
            },
            ..ProcInfo::default()
        }
    }

    #[test]
    fn scope_rules() {
        let s = Scope::new(&Config::default().scope).unwrap();
        assert!(s.in_scope(&p("/usr/bin/curl", Some(true), None, None)));
        assert!(s.in_scope(&p("/usr/bin/python3.11", Some(true), None, None)));
        assert!(s.is_runner("-zsh"));
        assert!(!s.in_scope(&p(
            "/System/Library/CoreServices/backupd.bundle/Contents/Resources/backupd",
            Some(true),
            None,
            None
        )));
        assert!(s.in_scope(&p(
            "/Applications/Zoom.app/Contents/MacOS/zoom.us",
            Some(false),
            Some(0x2000_0001),
            Some("BJ4HAAB9B3")
        )));
        assert!(s.in_scope(&p(
            "/private/tmp/.x/updater",
            Some(false),
            Some(0x2000_0003),
            None
        )));
        assert!(s.in_scope(&p("/Users/Shared/.cache/netd", None, None, None)));
        assert!(!s.in_scope(&p("/usr/libexec/nsurlsessiond", None, None, None)));
        let named = |n: &str| ProcInfo {
            pid: 1,
            args: Some([n.to_string()].into()),
            ..ProcInfo::default()
        };
        assert!(s.in_scope(&named("updater")));
        assert!(!s.in_scope(&named("backupd")));
        assert!(!s.in_scope(&named("com.apple.WebKi")));
        assert_eq!(
            s.suspicious_path("/private/tmp/.x/updater"),
            Some("/private/tmp/.x/updater")
        );
        assert_eq!(
            s.suspicious_path("/Library/Scripts/.sync.sh"),
            Some("/Library/Scripts/.sync.sh")
        );
        assert_eq!(s.suspicious_path("/usr/bin/curl"), None);
    }
}
