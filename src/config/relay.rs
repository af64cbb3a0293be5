//! Settings of the relay's healing: how it reads what live delivery missed from the database.

use clap::Args;

use super::parse::{non_negative, positive};

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Delivery healing")]
pub struct RelayArgs {
    /// Most messages one healing read takes from the database (a larger gap is read in pages of this size, one after another)
    #[arg(long, env = "CLASSCHAT_RELAY_HEAL_PAGE", value_name = "N", default_value = "500", value_parser = positive::<u32>)]
    pub relay_heal_page: u32,
    /// Cluster mode: how often a node compares the head `seq` of its rooms with what it delivered; a message stored before the previous look and still not delivered is then read from the database and delivered (0: never)
    #[arg(long, env = "CLASSCHAT_RELAY_AUDIT_INTERVAL_MS", value_name = "MS", default_value = "2000", value_parser = non_negative)]
    pub relay_audit_interval_ms: u64,
}

impl Default for RelayArgs {
    /// The documented defaults (for tests that build a `Config` by hand).
    fn default() -> Self {
        RelayArgs {
            relay_heal_page: 500,
            relay_audit_interval_ms: 2000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Command, FromArgMatches};

    #[test]
    fn the_default_impl_matches_the_clap_defaults() {
        let cmd = RelayArgs::augment_args(Command::new("serve")).mut_args(|a| a.env(None::<&str>));
        let m = cmd.try_get_matches_from(["serve"]).expect("defaults parse");
        let parsed = RelayArgs::from_arg_matches(&m).expect("defaults");
        let d = RelayArgs::default();
        assert_eq!(
            (parsed.relay_heal_page, parsed.relay_audit_interval_ms),
            (d.relay_heal_page, d.relay_audit_interval_ms)
        );
    }
}
