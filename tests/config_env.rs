//! The variables around the settings: a `CLASSCHAT_*` variable no setting reads is warned
//! about at start-up (with the setting it probably meant) and the node starts anyway; the
//! variables of the tests and tools are not; and `classchat serve --help` names every
//! variable docs/CONFIGURATION.md describes as a setting.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CONFIGURATION.md");
const TOOLS_HEADING: &str = "## Used only by the tests and tools";

/// Starts `classchat serve` with only `env` (JSON logs), waits for its listening line,
/// stops it, and returns the JSON log lines of its stderr.
fn start_and_stop(env: &[(&str, &str)]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_classchat"))
        .arg("serve")
        .env_clear()
        .env("CLASSCHAT_DATA_DIR", dir.path())
        .env("CLASSCHAT_API_ADDR", "127.0.0.1:0")
        .env("CLASSCHAT_SOCKET_ADDR", "127.0.0.1:0")
        .env("CLASSCHAT_METRICS_ADDR", "127.0.0.1:0")
        .env("CLASSCHAT_DRAIN_DELAY_MS", "0")
        .env("CLASSCHAT_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let started = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.starts_with("classchat listening "));
        let _ = tx.send(started);
    });
    let started = rx.recv_timeout(Duration::from_secs(60)).unwrap_or(false);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(started, "the node did not start:\n{err}");
    err.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn warnings(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["level"] == "WARN")
        .map(|l| {
            l["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn a_misspelt_setting_is_warned_about_with_the_one_it_meant_and_the_node_starts() {
    let lines = start_and_stop(&[
        ("CLASSCHAT_MAX_UPLAOD_BYTES", "1"),
        ("CLASSCHAT_REDIS_URL", "redis://127.0.0.1:1"),
        ("CLASSCHAT_NO_SUCH_THING_AT_ALL", "1"),
    ]);
    let warned = warnings(&lines);
    let about = |var: &str| warned.iter().find(|w| w.contains(var)).cloned();
    let typo = about("CLASSCHAT_MAX_UPLAOD_BYTES").expect("no warning about the typo");
    assert!(
        typo.contains("did you mean CLASSCHAT_MAX_UPLOAD_BYTES?"),
        "{typo}"
    );
    let prefixed = about("CLASSCHAT_REDIS_URL").expect("no warning about CLASSCHAT_REDIS_URL");
    assert!(prefixed.contains("did you mean REDIS_URL?"), "{prefixed}");
    let far = about("CLASSCHAT_NO_SUCH_THING_AT_ALL").expect("no warning about a far name");
    assert!(!far.contains("did you mean"), "{far}");
}

#[test]
fn settings_and_the_variables_of_the_tests_and_tools_are_not_warned_about() {
    let mut env = vec![("CLASSCHAT_MAX_UPLOAD_BYTES", "1000"), ("RUST_LOG", "info")];
    env.extend(classchat::config::TOOL_VARS.iter().map(|v| (*v, "x")));
    let warned = warnings(&start_and_stop(&env));
    assert!(
        !warned.iter().any(|w| w.contains("CLASSCHAT_")),
        "{warned:?}"
    );
}

/// The `CLASSCHAT_*` names in backticks (inline code; fenced examples left out).
fn variables(text: &str) -> Vec<String> {
    let mut fenced = false;
    let prose: String = text
        .lines()
        .filter(|l| {
            fenced ^= l.trim_start().starts_with("```");
            !fenced && !l.trim_start().starts_with("```")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let name = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
    let mut out: Vec<String> = prose
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|code| code.split(|c: char| !name(c)))
        .filter(|w| w.starts_with("CLASSCHAT_") && !w.ends_with('_'))
        .map(String::from)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn serve_help_names_every_variable_the_configuration_reference_describes() {
    let doc = std::fs::read_to_string(DOC).unwrap();
    let (settings, tools) = doc.split_once(TOOLS_HEADING).expect("the tools section");
    let out = Command::new(env!("CARGO_BIN_EXE_classchat"))
        .args(["serve", "--help"])
        .env_clear()
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let tool = |v: &String| classchat::config::TOOL_VARS.contains(&v.as_str());
    let mut described: Vec<String> = variables(settings)
        .into_iter()
        .filter(|v| !tool(v))
        .collect();
    assert!(
        described.len() >= 90,
        "only {} variables in the doc",
        described.len()
    );
    described.extend(["DATABASE_URL", "REDIS_URL", "RUST_LOG"].map(String::from));
    let missing: Vec<_> = described
        .iter()
        .filter(|v| !help.contains(&format!("[env: {v}")))
        .collect();
    assert!(
        missing.is_empty(),
        "described but not in serve --help: {missing:?}"
    );
    // The variables that are not warned about are the ones the doc lists as the tools'.
    for var in classchat::config::TOOL_VARS {
        assert!(
            tools.contains(&format!("`{var}`")),
            "{var} is not in the tools table"
        );
    }
    for var in variables(tools)
        .iter()
        .filter(|v| v.starts_with("CLASSCHAT_"))
    {
        assert!(
            classchat::config::TOOL_VARS.contains(&var.as_str()),
            "{var} is in the tools table, not in TOOL_VARS"
        );
    }
}
