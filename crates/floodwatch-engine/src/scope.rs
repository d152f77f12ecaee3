//! Scope: which processes can be a flood subject, and the name lists that classify them.
//! Apple platform binaries that are neither network tools nor script runners (backupd, softwareupdated,
//! cloudd) are never subjects: high volume from them is not a flood by itself.

use floodwatch_core::config::Scope as ScopeConfig;
use floodwatch_core::event::{basename, ProcInfo, SignatureClass};
use foldhash::HashMap;
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

/// What an executable name is to the scope: a network tool, a script runner (or both, or neither).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameClass {
    pub tool: bool,
    pub runner: bool,
}

/// Each exec'd name's [`NameClass`], remembered per host: a host execs the same few names over and
/// over, and matching both glob sets cost about 570 instructions an exec (1.4% of an eslogger
/// hunt's). Names are attacker-chosen: the memory is bounded, and starts over when full.
#[derive(Default)]
pub struct NameClasses {
    known: HashMap<Box<str>, NameClass>,
}

impl NameClasses {
    /// Names remembered at most (a few hundred kilobytes at worst).
    const LIMIT: usize = 4096;

    /// `name`'s class, as [`Scope::is_tool`] and [`Scope::is_runner`] give it.
    pub fn of(&mut self, scope: &Scope, name: &str) -> NameClass {
        if let Some(&class) = self.known.get(name) {
            return class;
        }
        let class = NameClass {
            tool: scope.is_tool(name),
            runner: scope.is_runner(name),
        };
        if self.known.len() >= Self::LIMIT {
            self.known.clear();
        }
        self.known.insert(name.into(), class);
        class
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

    /// The remembered class is the glob sets' answer, for names of every kind, asked in turn and
    /// again, past the limit where the memory starts over (which it does, staying bounded).
    #[test]
    fn remembered_name_classes_are_the_glob_sets_answers() {
        let s = Scope::new(&Config::default().scope).unwrap();
        let mut classes = NameClasses::default();
        let mut names: Vec<String> = [
            "curl",
            "ping",
            "-zsh",
            "python3.11",
            "bash",
            "hping3",
            "",
            "-",
        ]
        .map(String::from)
        .to_vec();
        names.extend((0..NameClasses::LIMIT + 100).map(|i| match i % 4 {
            0 => format!("tool{i}"),
            1 => format!("python3.{i}"),
            2 => format!("-{i}sh"),
            _ => format!("nc{i}"),
        }));
        let mut kinds = std::collections::BTreeSet::new();
        for round in 0..2 {
            for name in &names {
                let want = NameClass {
                    tool: s.is_tool(name),
                    runner: s.is_runner(name),
                };
                assert_eq!(classes.of(&s, name), want, "{name:?}, round {round}");
                assert!(classes.known.len() <= NameClasses::LIMIT);
                kinds.insert((want.tool, want.runner));
            }
        }
        // Tools, runners and neither were all among them.
        assert!(kinds.len() >= 3, "{kinds:?}");
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
