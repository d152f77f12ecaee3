//! Is a destination inside the organization? From `[respond] owned_ranges` and `owned_domains`.

use floodwatch_core::config::Respond;
use floodwatch_core::event::split_endpoint;
use floodwatch_core::net::{addr_of, is_internal, parse_cidr};
use floodwatch_core::respond::Answer;

/// The answer for one destination, with the owned service's name when it is one.
pub struct Ownership {
    pub answer: Answer,
    pub service: Option<String>,
    pub fact: String,
}

pub fn ownership(dest: &str, cfg: &Respond) -> Ownership {
    let (host, _) = split_endpoint(dest);
    let configured = !cfg.owned_ranges.is_empty() || !cfg.owned_domains.is_empty();
    if let Some(ip) = addr_of(dest) {
        for r in &cfg.owned_ranges {
            if parse_cidr(&r.cidr).is_some_and(|n| n.contains(&ip)) {
                return Ownership {
                    answer: Answer::Yes,
                    service: Some(r.name.clone()),
                    fact: format!("{ip} is in {} ({}), an owned range", r.cidr, r.name),
                };
            }
        }
        if configured {
            return Ownership {
                answer: Answer::No,
                service: None,
                fact: format!("{ip} is outside every owned range in [respond] owned_ranges"),
            };
        }
        if is_internal(ip) {
            return Ownership {
                answer: Answer::Unknown,
                service: None,
                fact: format!(
                    "{ip} is a private address, and no owned ranges are configured ([respond] owned_ranges)"
                ),
            };
        }
        return Ownership {
            answer: Answer::No,
            service: None,
            fact: format!(
                "{ip} is a public address (no owned ranges are configured in [respond] owned_ranges)"
            ),
        };
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    for d in &cfg.owned_domains {
        let suffix = d.suffix.trim_start_matches('.').to_ascii_lowercase();
        if !suffix.is_empty() && (name == suffix || name.ends_with(&format!(".{suffix}"))) {
            return Ownership {
                answer: Answer::Yes,
                service: Some(d.name.clone()),
                fact: format!("{name} is under {suffix} ({}), an owned domain", d.name),
            };
        }
    }
    Ownership {
        answer: if cfg.owned_domains.is_empty() {
            Answer::Unknown
        } else {
            Answer::No
        },
        service: None,
        fact: if cfg.owned_domains.is_empty() {
            format!(
                "{name} is a name, and no owned domains are configured ([respond] owned_domains)"
            )
        } else {
            format!("{name} is under no owned domain in [respond] owned_domains")
        },
    }
}
