//! docs/CONFIGURATION.md against the binary: the tables between its `generated` markers
//! are rendered from `classchat serve --help` (and the variables `migrate` and `token`
//! read); the test fails when they differ. `CLASSCHAT_UPDATE_DOCS=1 cargo test --test
//! config_reference` rewrites them.

use std::process::Command;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CONFIGURATION.md");
const BEGIN: &str =
    "<!-- generated from `classchat serve --help` by tests/config_reference.rs: begin -->";
const END: &str = "<!-- generated: end -->";

/// One setting as `--help` shows it.
struct Setting {
    flag: String,
    env: String,
    default: Option<String>,
    possible: Option<String>,
    help: String,
}

/// `classchat <args>` with an empty environment: its stdout.
fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_classchat"))
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Peels the trailing `[env: …]`, `[default: …]`, `[possible values: …]` off a help text.
fn setting(flag: String, mut text: String) -> Setting {
    let (mut env, mut default, mut possible) = (String::new(), None, None);
    while text.ends_with(']') {
        let at = text.rfind('[').expect("a tag");
        let tag = text[at + 1..text.len() - 1].to_string();
        text.truncate(at);
        text = text.trim_end().to_string();
        if let Some(v) = tag.strip_prefix("env: ") {
            env = v
                .trim_end_matches('=')
                .split('=')
                .next()
                .unwrap()
                .to_string();
        } else if let Some(v) = tag.strip_prefix("default: ") {
            default = Some(v.to_string());
        } else if let Some(v) = tag.strip_prefix("possible values: ") {
            possible = Some(v.to_string());
        }
    }
    Setting {
        flag,
        env,
        default,
        possible,
        help: text,
    }
}

/// The sections of a `--help` (heading, settings with a variable), in order.
fn sections(help: &str) -> Vec<(String, Vec<Setting>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            out.push((line.trim_end_matches(':').to_string(), Vec::new()));
        } else if let Some((_, entries)) = out.last_mut() {
            let t = line.trim();
            if t.starts_with('-') {
                let (flag, text) = t.split_once("  ").unwrap_or((t, ""));
                entries.push((flag.to_string(), text.trim().to_string()));
            } else if let (false, Some((_, text))) = (t.is_empty(), entries.last_mut()) {
                text.push(' ');
                text.push_str(t);
                *text = text.trim().to_string();
            }
        }
    }
    out.into_iter()
        .map(|(h, e)| {
            let s = e.into_iter().map(|(f, t)| setting(f, t));
            (
                h,
                s.filter(|s| !s.flag.contains("--help")).collect::<Vec<_>>(),
            )
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

/// The `(default: …)` a help text spells out, for a setting with no value of its own, and
/// the help text without it.
fn written_default(help: &str) -> Option<(String, String)> {
    let at = help.find("(default: ")?;
    let rest = &help[at + 1..];
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                let without = format!("{}{}", help[..at].trim_end(), &rest[i + 1..]);
                return Some((rest["default: ".len()..i].to_string(), without));
            }
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn render() -> String {
    let mut md = String::new();
    for (heading, settings) in sections(&help(&["serve", "--help"])) {
        md += &format!(
            "\n### {heading}\n\n| variable | flag | default | meaning |\n|---|---|---|---|\n"
        );
        for s in settings {
            let (default, help) = match (&s.default, written_default(&s.help)) {
                (Some(d), _) => (format!("`{d}`"), s.help),
                (None, Some((d, help))) => (d, help),
                (None, None) => ("—".into(), s.help),
            };
            let default = default.replace('|', "\\|");
            let mut meaning = help.replace('|', "\\|");
            if let Some(p) = s.possible {
                meaning += &format!(" (one of: {p})");
            }
            md += &format!("| `{}` | `{}` | {default} | {meaning} |\n", s.env, s.flag);
        }
    }
    md += "\n### What the other sub-commands read\n\n";
    for sub in ["migrate", "token"] {
        let vars: Vec<String> = sections(&help(&[sub, "--help"]))
            .into_iter()
            .flat_map(|(_, s)| s.into_iter().filter(|s| !s.env.is_empty()))
            .map(|s| format!("`{}`", s.env))
            .collect();
        md += &format!("- `classchat {sub}`: {}\n", vars.join(", "));
    }
    md
}

#[test]
fn configuration_md_matches_serve_help() {
    let doc = std::fs::read_to_string(DOC).expect("docs/CONFIGURATION.md");
    let (head, rest) = doc.split_once(BEGIN).expect("the begin marker");
    let (old, tail) = rest.split_once(END).expect("the end marker");
    let new = render();
    if old == new {
        return;
    }
    if std::env::var_os("CLASSCHAT_UPDATE_DOCS").is_some() {
        std::fs::write(DOC, format!("{head}{BEGIN}{new}{END}{tail}")).unwrap();
        return;
    }
    panic!(
        "docs/CONFIGURATION.md is out of date with `classchat serve --help`: run \
         CLASSCHAT_UPDATE_DOCS=1 cargo test --test config_reference\n--- generated ---\n{new}"
    );
}

#[test]
fn every_setting_has_a_variable_and_a_help_text() {
    let all = sections(&help(&["serve", "--help"]));
    let count: usize = all.iter().map(|(_, s)| s.len()).sum();
    assert!(count >= 38, "{count} settings");
    for (_, settings) in &all {
        for s in settings {
            assert!(!s.help.is_empty(), "{} has no help", s.env);
        }
    }
}

#[test]
fn every_setting_of_serve_help_shows_its_variable_and_its_default() {
    for (heading, settings) in sections(&help(&["serve", "--help"])) {
        for s in settings {
            assert!(!s.env.is_empty(), "{heading}: {} reads no variable", s.flag);
            assert!(
                s.default.is_some() || written_default(&s.help).is_some(),
                "{heading}: {} ({}) shows no [default: …] and its help says no (default: …)",
                s.env,
                s.flag
            );
        }
    }
}
