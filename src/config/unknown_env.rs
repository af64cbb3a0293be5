//! Unknown `CLASSCHAT_*` variables. A variable no setting reads is ignored by clap, and a
//! typo is the commonest misconfiguration: at start-up each one is logged as a warning that
//! names it and, when one is close, the setting it probably meant. Start-up goes on.

use std::collections::BTreeSet;

use clap::Command;

/// `CLASSCHAT_*` variables of the tests and tools (docs/CONFIGURATION.md, "Used only by the
/// tests and tools"): often in a developer's or CI's environment and never a setting, so
/// not warned about.
pub const TOOL_VARS: &[&str] = &[
    "CLASSCHAT_TEST_PG_URL",
    "CLASSCHAT_BIN",
    "CLASSCHAT_OTEL_BIN",
    "CLASSCHAT_LOAD_BIN",
    "CLASSCHAT_K6",
    "CLASSCHAT_SCHEMATHESIS",
    "CLASSCHAT_CONTAINERS_WORK",
    "CLASSCHAT_SERVER_BIN",
    "CLASSCHAT_UPDATE_DOCS",
    "CLASSCHAT_UPDATE_SCREENSHOTS",
    "CLASSCHAT_CHROMIUM",
    "CLASSCHAT_MOTO_SERVER",
    "CLASSCHAT_CHAOS_RECIPE",
    "CLASSCHAT_TOOLS_DIR",
    "CLASSCHAT_DEPLOY_TOOLS",
    "CLASSCHAT_SOCKET_URLS",
    "CLASSCHAT_API_URLS",
    "CLASSCHAT_PREFIX",
];

const PREFIX: &str = "CLASSCHAT_";

/// Every variable an argument of `cmd` or of its sub-commands reads.
pub fn setting_vars(cmd: &Command) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    for sub in cmd.get_subcommands() {
        out.extend(setting_vars(sub));
    }
    out
}

/// The `CLASSCHAT_*` names among `names` that are neither a setting of `known` nor a tool
/// variable, each with the setting it probably meant (if one is close).
pub fn unknown(
    names: impl IntoIterator<Item = String>,
    known: &BTreeSet<String>,
) -> Vec<(String, Option<String>)> {
    let mut out: Vec<_> = names
        .into_iter()
        .filter(|n| n.starts_with(PREFIX) && !known.contains(n))
        .filter(|n| !TOOL_VARS.contains(&n.as_str()))
        .map(|n| {
            let meant = closest(&n, known);
            (n, meant)
        })
        .collect();
    out.sort();
    out
}

/// The setting `name` is probably a misspelling of: a known variable within a few edits
/// (fewer than a third of its length after the prefix), or the same name without the
/// prefix (`CLASSCHAT_REDIS_URL` for `REDIS_URL`).
fn closest(name: &str, known: &BTreeSet<String>) -> Option<String> {
    let bare = name.trim_start_matches(PREFIX);
    if known.contains(bare) {
        return Some(bare.to_string());
    }
    let (distance, best) = known
        .iter()
        .map(|k| (edit_distance(bare, k.trim_start_matches(PREFIX)), k))
        .min()?;
    (distance <= 3 && distance * 3 < bare.len()).then(|| best.clone())
}

/// Edits (insert, delete, replace, swap of two neighbours) from `a` to `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Logs a warning for each unknown `CLASSCHAT_*` variable of the process environment.
pub fn warn_unknown_env(cmd: &Command) {
    let names = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok());
    for (var, meant) in unknown(names, &setting_vars(cmd)) {
        match meant {
            Some(setting) => {
                tracing::warn!("{var} is not a setting and is ignored: did you mean {setting}?")
            }
            None => tracing::warn!(
                "{var} is not a setting and is ignored (classchat serve --help lists them)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        [
            "CLASSCHAT_MAX_UPLOAD_BYTES",
            "CLASSCHAT_MAX_BODY_BYTES",
            "CLASSCHAT_NODE_ID",
            "REDIS_URL",
        ]
        .map(String::from)
        .into()
    }

    fn check(name: &str) -> Vec<(String, Option<String>)> {
        unknown([name.to_string()], &known())
    }

    #[test]
    fn a_swapped_or_missing_letter_suggests_the_setting_it_meant() {
        for typo in [
            "CLASSCHAT_MAX_UPLAOD_BYTES",
            "CLASSCHAT_MAX_UPLOAD_BYTE",
            "CLASSCHAT_MAX_UPLOADS_BYTES",
        ] {
            let meant = check(typo)[0].1.clone();
            assert_eq!(
                meant.as_deref(),
                Some("CLASSCHAT_MAX_UPLOAD_BYTES"),
                "{typo}"
            );
        }
        assert_eq!(
            check("CLASSCHAT_NODEID")[0].1.as_deref(),
            Some("CLASSCHAT_NODE_ID")
        );
        assert_eq!(
            check("CLASSCHAT_REDIS_URL")[0].1.as_deref(),
            Some("REDIS_URL")
        );
    }

    #[test]
    fn a_name_far_from_every_setting_is_reported_without_a_guess() {
        assert_eq!(
            check("CLASSCHAT_COLOUR"),
            vec![("CLASSCHAT_COLOUR".into(), None)]
        );
        assert_eq!(
            check("CLASSCHAT_X")[0].1,
            None,
            "short names are not guessed"
        );
    }

    #[test]
    fn settings_tool_variables_and_other_prefixes_are_not_reported() {
        for name in [
            "CLASSCHAT_NODE_ID",
            "CLASSCHAT_TEST_PG_URL",
            "CLASSCHAT_BIN",
            "HOME",
        ] {
            assert!(check(name).is_empty(), "{name}");
        }
    }

    #[test]
    fn the_variables_of_every_sub_command_are_known() {
        let cmd = Command::new("x")
            .subcommand(Command::new("a").arg(clap::Arg::new("p").long("p").env("CLASSCHAT_P")))
            .arg(clap::Arg::new("q").long("q").env("CLASSCHAT_Q"));
        let vars = setting_vars(&cmd);
        assert_eq!(
            vars,
            ["CLASSCHAT_P", "CLASSCHAT_Q"].map(String::from).into()
        );
    }
}
