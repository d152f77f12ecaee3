//! The README's sample outputs are what the bundled data gives: the quickstart hunt of
//! `examples/collection` (table and summary) and the head of the campaign hunt of `examples/campaign`
//! are compared with the blocks the README shows, so the README cannot drift from the tool.

use crate::common;

use common::{repo_root, run_cli};

/// The lines of the README's text block that starts with the command line `$ {command}`.
fn block_after(readme: &str, command: &str) -> Vec<String> {
    let marker = format!("$ {command}\n");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README has no block for {command:?}"))
        + marker.len();
    let end = readme[start..].find("```").unwrap() + start;
    readme[start..end].lines().map(str::to_string).collect()
}

#[test]
fn readme_shows_the_bundled_collection_hunt_as_it_is() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let (out, err) = run_cli(&root, &["hunt", "examples/collection", "--format", "table"]);
    let actual: Vec<String> = format!("{out}{err}").lines().map(str::to_string).collect();
    let shown = block_after(&readme, "cargo run --release -- hunt examples/collection");
    assert_eq!(shown, actual);
}

#[test]
fn readme_shows_the_bundled_campaign_as_it_is() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let (out, _) = run_cli(&root, &["hunt", "examples/campaign", "--format", "table"]);
    let shown = block_after(&readme, "cargo run --release -- hunt examples/campaign");
    // The README shows the campaign whole, then excerpts of the first alert ("..." marks a cut).
    let head: Vec<&str> = shown
        .iter()
        .map(String::as_str)
        .take_while(|l| l.trim() != "...")
        .collect();
    let actual: Vec<&str> = out.lines().take(head.len()).collect();
    assert_eq!(head, actual);
    for line in shown.iter().filter(|l| l.trim() != "...") {
        assert!(out.lines().any(|l| l == line), "not in the output: {line}");
    }
}

#[test]
fn readme_playbook_excerpt_is_from_alerts_show() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let db = db.to_str().unwrap();
    run_cli(
        &root,
        &[
            "hunt",
            "examples/collection",
            "--db",
            db,
            "--format",
            "jsonl",
        ],
    );
    let (show, _) = run_cli(&root, &["alerts", "show", "a02bb472", "--db", db]);
    let start = readme
        .find("```text\n  playbook:\n")
        .expect("the playbook excerpt")
        + 8;
    let end = readme[start..].find("```").unwrap() + start;
    let mut n = 0;
    for line in readme[start..end].lines().filter(|l| l.trim() != "...") {
        assert!(
            show.lines().any(|l| l == line),
            "not in `alerts show`: {line}\n{show}"
        );
        n += 1;
    }
    assert!(n > 20, "{n}");
}

/// A generated file without its header (the comment lines every export file starts with).
fn without_header(name: &str, text: &str) -> String {
    if let Some(rest) = text.strip_prefix("```\n") {
        // SPL: the header is one ``` comment block.
        let end = rest.find("```\n").unwrap() + 4;
        return rest[end..].to_string();
    }
    let prefix = if name.ends_with(".yml") { "# " } else { "// " };
    text.lines()
        .skip_while(|l| l.starts_with(prefix))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The README's curl-loop (exec-burst) rule of every target is the file `floodwatch export` writes
/// from the default config, header left out: each block follows a `<!-- export:TARGET:FILE -->`
/// marker (`FILE#QUERY` for one query of the osquery SQL file).
#[test]
fn readme_shows_the_exported_curl_loop_rules_as_they_are() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = std::collections::BTreeSet::new();
    for (at, _) in readme.match_indices("<!-- export:") {
        let marker_end = readme[at..].find(" -->").unwrap() + at;
        let spec = &readme[at + "<!-- export:".len()..marker_end];
        let (target, file) = spec.split_once(':').unwrap();
        let (file, query) = file
            .split_once('#')
            .map_or((file, None), |(f, q)| (f, Some(q)));
        let out = dir.path().join(target);
        if !out.exists() {
            run_cli(
                &root,
                &["export", "--to", target, "-o", out.to_str().unwrap()],
            );
        }
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        let expected = match query {
            Some(q) => {
                let start = text.find(&format!("-- {q}:")).unwrap();
                let rest = &text[start..];
                let end = rest[1..].find("\n-- ").map_or(rest.len(), |e| e + 2);
                rest[..end].to_string()
            }
            None => without_header(file, &text),
        };
        let block_start = readme[marker_end..].find("```").unwrap() + marker_end;
        let body_start = readme[block_start..].find('\n').unwrap() + block_start + 1;
        let body_end = readme[body_start..].find("```\n").unwrap() + body_start;
        assert_eq!(
            &readme[body_start..body_end],
            expected,
            "README block for {target}:{file} differs from the export"
        );
        checked.insert(target.to_string());
    }
    assert_eq!(
        checked.into_iter().collect::<Vec<_>>(),
        ["esql", "kql", "osquery", "sigma", "spl"],
        "a block for every target"
    );
}
