//! `floodwatch suppress add | list | expire | renew | remove`: documented automation in the store, each
//! suppression with an owner, a reason and an expiry (required), an optional rate ceiling, its hits
//! counted and every change kept in its history.

use crate::cli::{AddArgs, StoreArgs, SuppressCmd};
use crate::commands::print_json;
use floodwatch_core::Ts;
use floodwatch_core::{Error, Result};
use floodwatch_engine::suppress::{
    check_entries, entry_toml, parse_expiry, refuse_unowned, renewed, revoked, CheckedEntry,
    EntryFields,
};
use floodwatch_runtime::store;
use floodwatch_sinks::escape::{clip, terminal};
use floodwatch_store::suppressions::NewSuppression;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(cmd: SuppressCmd) -> Result<ExitCode> {
    match cmd {
        SuppressCmd::Add(a) => add(*a),
        SuppressCmd::List { store, json } => list(&store, json),
        SuppressCmd::Expire { id, store, by } => expire(&id, &store, &by),
        SuppressCmd::Renew {
            id,
            store,
            expires,
            by,
        } => renew(&id, &store, &expires, &by),
        SuppressCmd::Remove {
            id,
            store,
            by,
            reason,
        } => remove(&id, &store, &by, &reason),
    }
}

/// The flags as one `[[suppression]]` entry, validated by the same code as suppressions files.
fn entry_from_flags(a: &AddArgs) -> Result<String> {
    let matches = [
        ("signing_id", &a.signing_id),
        ("team_id", &a.team_id),
        ("path", &a.path),
        ("argv", &a.argv),
        ("parent", &a.parent),
        ("user", &a.user),
        ("host", &a.host),
        ("destination", &a.destination),
    ];
    let ceilings = [
        ("spawns_per_s", a.max_spawns_per_s),
        ("packets_per_s", a.max_packets_per_s),
        ("bytes_per_s", a.max_bytes_per_s),
        ("connections_per_s", a.max_connections_per_s),
    ];
    entry_toml(&EntryFields {
        id: a.id.clone(),
        owner: a.owner.clone(),
        reason: a.reason.clone(),
        expires: a.expires.clone(),
        matches: matches
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
            .collect(),
        ceilings: ceilings
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect(),
    })
    .map_err(Error::Input)
}

fn add(a: AddArgs) -> Result<ExitCode> {
    let (text, origin) = match &a.from {
        Some(p) => (
            std::fs::read_to_string(p)
                .map_err(|e| Error::io(format!("reading {}", p.display()), e))?,
            p.clone(),
        ),
        None => (entry_from_flags(&a)?, PathBuf::from("<flags>")),
    };
    let entries = check_entries(&text, &origin)?;
    if entries.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no [[suppression]] entry",
            origin.display()
        )));
    }
    let now = Ts::now();
    refuse_placeholders(&entries, &origin, now)?;
    let (_, mut store) = a.store.open()?;
    let mut out = std::io::stdout().lock();
    for e in &entries {
        store.add_suppression(
            &NewSuppression {
                id: e.id.clone(),
                owner: e.owner.clone(),
                reason: e.reason.clone(),
                expires: e.expires.clone(),
                entry: e.entry.clone(),
                created_by: a.by.clone(),
            },
            now,
        )?;
        writeln!(
            out,
            "added suppression {} (owner {}, expires {}) to {}",
            terminal(&e.id),
            terminal(&e.owner),
            terminal(&e.expires),
            store.path().display()
        )
        .map_err(|x| Error::io("writing", x))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn refuse_placeholders(
    entries: &[CheckedEntry],
    origin: &Path,
    now: floodwatch_core::Ts,
) -> Result<()> {
    refuse_unowned(entries, now).map_err(|why| Error::Usage(format!("{}: {why}", origin.display())))
}

fn list(args: &StoreArgs, json: bool) -> Result<ExitCode> {
    let (_, store) = args.existing()?;
    let mut rows = store.list_suppressions()?;
    let mut out = std::io::stdout().lock();
    let io = |x| Error::io("writing suppressions", x);
    if json {
        for r in rows.iter_mut().filter(|r| r.source == "store") {
            r.history = store.suppression_history(&r.id)?;
        }
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = Ts::now();
    writeln!(
        out,
        "{:<24} {:<6} {:<8} {:<18} {:<24} {:>5} {:<24} reason",
        "id", "source", "state", "owner", "expires", "hits", "last hit"
    )
    .map_err(io)?;
    for r in &rows {
        let expired = store::is_expired(r, now);
        writeln!(
            out,
            "{:<24} {:<6} {:<8} {:<18} {:<24} {:>5} {:<24} {}",
            terminal(&clip(&r.id, 24)),
            r.source,
            if r.source == "file" {
                "-"
            } else if r.removed_at.is_some() {
                "removed"
            } else if expired {
                "EXPIRED"
            } else {
                "active"
            },
            terminal(&clip(r.owner.as_deref().unwrap_or("-"), 18)),
            terminal(r.expires.as_deref().unwrap_or("-")),
            r.hits,
            r.last_hit.as_deref().unwrap_or("-"),
            terminal(&clip(
                r.reason.as_deref().unwrap_or("(from a suppressions file)"),
                60
            ))
        )
        .map_err(io)?;
    }
    store::report_expired(&store, now, &mut std::io::stderr().lock())?;
    Ok(ExitCode::SUCCESS)
}

fn expire(id: &str, args: &StoreArgs, by: &str) -> Result<ExitCode> {
    let (_, mut store) = args.existing()?;
    let Some(entry) = store.suppression_entry(id)? else {
        return Err(Error::Usage(format!(
            "no suppression {id:?} in {} (`floodwatch suppress list` shows them)",
            store.path().display()
        )));
    };
    let now = Ts::now();
    let when = now.to_rfc3339_millis();
    let entry = revoked(&entry, &when).map_err(Error::Input)?;
    let report = store.expire_suppression(id, &entry, by, now)?;
    let mut out = std::io::stdout().lock();
    if let Some(r) = report {
        store::write_expiry(&mut out, &r).map_err(|x| Error::io("writing", x))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn no_such(id: &str, store: &floodwatch_store::Store) -> Error {
    Error::Usage(format!(
        "no suppression {id:?} in {} (`floodwatch suppress list` shows them; a removed one cannot be changed, add it again)",
        store.path().display()
    ))
}

fn renew(id: &str, args: &StoreArgs, expires: &str, by: &str) -> Result<ExitCode> {
    let now = Ts::now();
    match parse_expiry(expires) {
        None => {
            return Err(Error::Usage(format!(
                "--expires {expires:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"
            )))
        }
        Some(t) if t < now => {
            return Err(Error::Usage(format!("--expires {expires} is already past")))
        }
        Some(_) => {}
    }
    let (_, mut store) = args.existing()?;
    let Some(entry) = store.suppression_entry(id)? else {
        return Err(no_such(id, &store));
    };
    let entry = renewed(&entry, expires).map_err(Error::Input)?;
    if !store.renew_suppression(id, &entry, expires, by, now)? {
        return Err(no_such(id, &store));
    }
    println!(
        "renewed suppression {} until {}",
        terminal(id),
        terminal(expires)
    );
    Ok(ExitCode::SUCCESS)
}

fn remove(id: &str, args: &StoreArgs, by: &str, reason: &str) -> Result<ExitCode> {
    let (_, mut store) = args.existing()?;
    if !store.remove_suppression(id, by, reason, Ts::now())? {
        return Err(no_such(id, &store));
    }
    println!(
        "removed suppression {} (its hits and history stay in {})",
        terminal(id),
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}
