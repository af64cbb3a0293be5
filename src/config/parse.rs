//! Value parsers of the settings, the rule that a blank variable counts as unset, and a bad setting turned into one line that names its variable.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::str::FromStr;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command};

use super::ConfigError;

/// A number greater than 0 (surrounding spaces allowed).
pub(crate) fn positive<T>(s: &str) -> Result<T, String>
where
    T: FromStr + Default + PartialEq,
    T::Err: std::fmt::Display,
{
    let v: T = s.trim().parse().map_err(|e: T::Err| e.to_string())?;
    if v == T::default() {
        return Err("must be greater than 0".into());
    }
    Ok(v)
}

/// A number that may be 0.
pub(crate) fn non_negative(s: &str) -> Result<u64, String> {
    s.trim()
        .parse()
        .map_err(|e: std::num::ParseIntError| e.to_string())
}

pub(crate) fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|e: std::net::AddrParseError| e.to_string())
}

pub(crate) fn database_url(s: &str) -> Result<String, String> {
    if ["postgres://", "postgresql://", "sqlite:"]
        .iter()
        .any(|p| s.starts_with(p))
    {
        Ok(s.to_string())
    } else {
        Err("must start with postgres://, postgresql:// or sqlite:".into())
    }
}

pub(crate) fn log_filter(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn blank(var: &OsStr) -> bool {
    std::env::var_os(var).is_some_and(|v| v.to_string_lossy().trim().is_empty())
}

/// `cmd` (and its sub-commands) with every argument whose variable is set but blank
/// reading no variable: an empty value counts as unset, so the default applies.
pub fn blank_env_unset(mut cmd: Command) -> Command {
    let blank_ids: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.get_env().is_some_and(blank))
        .map(|a| a.get_id().to_string())
        .collect();
    for id in blank_ids {
        cmd = cmd.mut_arg(id, |a| a.env(None::<&'static str>));
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in subs {
        cmd = cmd.mut_subcommand(name, blank_env_unset);
    }
    cmd
}

/// The argument shown as `shown` (e.g. `--api-addr <ADDR>`) in `cmd` or a sub-command.
fn find<'a>(cmd: &'a Command, shown: &str) -> Option<&'a Arg> {
    cmd.get_arguments()
        .find(|a| a.to_string() == shown)
        .or_else(|| cmd.get_subcommands().find_map(|s| find(s, shown)))
}

/// How a setting is named in an error: its variable, and its flag.
fn name(arg: &Arg) -> String {
    match (arg.get_env(), arg.get_long()) {
        (Some(env), Some(long)) => format!("{} (--{long})", env.to_string_lossy()),
        (Some(env), None) => env.to_string_lossy().into_owned(),
        _ => arg.to_string(),
    }
}

fn strings(err: &clap::Error, kind: ContextKind) -> Vec<String> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => vec![],
    }
}

fn env_name(arg: &Arg) -> String {
    arg.get_env()
        .map_or_else(|| arg.to_string(), |e| e.to_string_lossy().into_owned())
}

/// A clap error about a setting, as a configuration error naming its variable; `None`
/// for other errors (unknown flags, `--help`), which clap reports itself. The value is
/// left out for settings that hide theirs (secrets, URLs that may hold a password).
pub fn config_error(cmd: &Command, err: &clap::Error) -> Option<ConfigError> {
    let invalid = strings(err, ContextKind::InvalidArg);
    match err.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let arg = find(cmd, invalid.first()?)?;
            let mut reason = match err.kind() {
                ErrorKind::ValueValidation => std::error::Error::source(err)?.to_string(),
                _ => format!(
                    "must be one of {}",
                    strings(err, ContextKind::ValidValue).join(", ")
                ),
            };
            if !arg.is_hide_env_values_set() {
                if let Some(v) = strings(err, ContextKind::InvalidValue).first() {
                    reason = format!("cannot use {v:?}: {reason}");
                }
            }
            Some(ConfigError {
                var: name(arg),
                reason,
            })
        }
        ErrorKind::ArgumentConflict => {
            let a = find(cmd, invalid.first()?)?;
            let b = find(cmd, strings(err, ContextKind::PriorArg).first()?)?;
            (a.get_id() != b.get_id()).then(|| ConfigError {
                var: env_name(a),
                reason: format!("set either {} or {}, not both", env_name(a), env_name(b)),
            })
        }
        ErrorKind::MissingRequiredArgument => {
            // The only requirement among the settings: REDIS_URL needs a configured key.
            let any = |shown: &str| invalid.iter().any(|i| i.contains(shown));
            let needed: Vec<&Arg> = cmd
                .get_subcommands()
                .chain([cmd])
                .flat_map(|c| c.get_arguments())
                .filter(|a| a.get_env().is_some() && any(&a.to_string()))
                .collect();
            let mut names: Vec<String> = Vec::new();
            for n in needed.iter().map(|a| env_name(a)) {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            Some(ConfigError {
                var: names.first()?.clone(),
                reason: format!("cluster mode (REDIS_URL set) needs {}", names.join(" or ")),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_trimmed_and_zero_is_refused_where_it_must_be_positive() {
        assert_eq!(positive::<u32>(" 5 "), Ok(5));
        assert!(positive::<u32>("0").is_err());
        assert!(positive::<u64>("-1").is_err());
        assert_eq!(non_negative("0"), Ok(0));
        assert!(socket_addr(" 127.0.0.1:0 ").is_ok());
    }

    #[test]
    fn database_urls_are_postgres_or_sqlite() {
        assert!(database_url("postgresql://u@h/db").is_ok());
        assert!(database_url("sqlite::memory:").is_ok());
        assert!(database_url("mysql://u@h/db").is_err());
    }
}
