//! Host roles: which role a hostname has, from a roles file (first matching glob wins).

use floodwatch_core::{Error, Result};
use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use std::path::Path;

/// Host roles: the first rule whose hostname glob matches, else the default role.
#[derive(Clone, Debug)]
pub struct Roles {
    pub default: String,
    rules: Vec<(String, GlobMatcher, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    default: Option<String>,
    #[serde(default)]
    role: Vec<RawRole>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    hosts: String,
    role: String,
}

impl Roles {
    pub fn new(default: &str) -> Roles {
        Roles {
            default: default.to_string(),
            rules: Vec::new(),
        }
    }

    /// A roles file: `default = "workstation"` and `[[role]] hosts = "build-*" role = "build-agent"`.
    pub fn load(path: &Path, default: &str) -> Result<Roles> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading roles {}", path.display()), e))?;
        Self::parse(&text, path, default)
    }

    pub fn parse(text: &str, path: &Path, default: &str) -> Result<Roles> {
        let bad = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawRoles = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut roles = Roles::new(raw.default.as_deref().unwrap_or(default));
        for (i, r) in raw.role.into_iter().enumerate() {
            let g = Glob::new(&r.hosts).map_err(|e| {
                bad(format!(
                    "role #{}: bad hosts glob {:?}: {e}",
                    i + 1,
                    r.hosts
                ))
            })?;
            roles.rules.push((r.hosts, g.compile_matcher(), r.role));
        }
        Ok(roles)
    }

    pub fn role_of(&self, host: &str) -> &str {
        self.rules
            .iter()
            .find(|(_, g, _)| g.is_match(host))
            .map_or(self.default.as_str(), |(_, _, r)| r.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_first_match_wins_else_default() {
        let r = Roles::parse(
            "default = \"workstation\"\n[[role]]\nhosts = \"build-*\"\nrole = \"build-agent\"\n[[role]]\nhosts = \"*\"\nrole = \"other\"\n",
            Path::new("roles.toml"),
            "default",
        )
        .unwrap();
        assert_eq!(r.role_of("build-mac-07"), "build-agent");
        assert_eq!(r.role_of("admin-mbp"), "other");
        let r = Roles::parse("", Path::new("r"), "default").unwrap();
        assert_eq!(r.role_of("x"), "default");
        assert!(Roles::parse(
            "[[role]]\nhosts = \"[\"\nrole = \"x\"\n",
            Path::new("r"),
            "d"
        )
        .is_err());
    }
}
