//! Settings of meetings: the participant limit, when an empty meeting ends, the signal
//! limits, and the STUN/TURN servers handed to browsers.

use clap::Args;

use super::parse::positive;
use crate::domain::ice::IceConfig;
use crate::domain::limits::{MeetingLimits, Rate};

/// A list of STUN/TURN URLs (one setting, so clap must not see a `Vec`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UrlList(pub Vec<String>);

/// A comma-separated list of URLs (`stun:…`, `turn:…`, `turns:…`); blanks dropped.
fn url_list(s: &str) -> Result<UrlList, String> {
    let urls: Vec<String> = s
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    match urls.iter().find(|u| {
        !["stun:", "turn:", "turns:"]
            .iter()
            .any(|p| u.starts_with(p))
    }) {
        Some(bad) => Err(format!("{bad:?} is not a stun:, turn: or turns: URL")),
        None => Ok(UrlList(urls)),
    }
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Meetings")]
pub struct MeetingArgs {
    /// Peers in one meeting at most (media is a full peer-to-peer mesh: each peer sends its video to every other)
    #[arg(long, env = "CLASSCHAT_MEETING_MAX_PARTICIPANTS", value_name = "N", default_value = "8", value_parser = positive::<usize>)]
    pub meeting_max_participants: usize,
    /// A meeting with nobody in it for this long ends (reason "empty")
    #[arg(long, env = "CLASSCHAT_MEETING_EMPTY_SECS", value_name = "SECS", default_value = "60", value_parser = positive::<u64>)]
    pub meeting_empty_secs: u64,
    /// Largest meeting-signal `signal` object, in bytes of JSON (payload_too_large past it)
    #[arg(long, env = "CLASSCHAT_MEETING_MAX_SIGNAL_BYTES", value_name = "BYTES", default_value = "65536", value_parser = positive::<usize>)]
    pub meeting_max_signal_bytes: usize,
    /// meeting-signal events per user per second, sustained
    #[arg(long, env = "CLASSCHAT_RATE_SIGNAL_PER_SEC", value_name = "N", default_value = "50", value_parser = positive::<u32>)]
    pub rate_signal_per_sec: u32,
    /// meeting-signal events per user, burst (a peer joining a full meeting sends an offer and a few dozen ICE candidates to each other peer)
    #[arg(long, env = "CLASSCHAT_RATE_SIGNAL_BURST", value_name = "N", default_value = "200", value_parser = positive::<u32>)]
    pub rate_signal_burst: u32,
    /// Meeting joins, media-state changes and host actions per user per second, sustained
    #[arg(long, env = "CLASSCHAT_RATE_MEETING_PER_SEC", value_name = "N", default_value = "10", value_parser = positive::<u32>)]
    pub rate_meeting_per_sec: u32,
    /// Meeting joins, media-state changes and host actions per user, burst
    #[arg(long, env = "CLASSCHAT_RATE_MEETING_BURST", value_name = "N", default_value = "40", value_parser = positive::<u32>)]
    pub rate_meeting_burst: u32,
    /// STUN servers for browsers, comma-separated (e.g. stun:stun.example.org:3478)
    #[arg(long, env = "CLASSCHAT_STUN_URLS", value_name = "URLS", default_value = "", value_parser = url_list)]
    pub stun_urls: UrlList,
    /// TURN servers for browsers, comma-separated (e.g. turn:turn.example.org:3478?transport=udp); needs CLASSCHAT_TURN_SECRET
    #[arg(long, env = "CLASSCHAT_TURN_URLS", value_name = "URLS", default_value = "", value_parser = url_list)]
    pub turn_urls: UrlList,
    /// The TURN server's shared secret (coturn's static-auth-secret): credentials are minted with it by the TURN REST scheme (default: none; needed with CLASSCHAT_TURN_URLS)
    #[arg(
        long,
        env = "CLASSCHAT_TURN_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub turn_secret: Option<String>,
    /// How long minted TURN credentials last, in seconds
    #[arg(long, env = "CLASSCHAT_TURN_TTL", value_name = "SECS", default_value = "86400", value_parser = positive::<u64>)]
    pub turn_ttl: u64,
}

impl MeetingArgs {
    pub fn limits(&self) -> MeetingLimits {
        MeetingLimits {
            max_participants: self.meeting_max_participants,
            empty_secs: self.meeting_empty_secs,
            max_signal_bytes: self.meeting_max_signal_bytes,
            signal: Rate::new(self.rate_signal_per_sec, self.rate_signal_burst),
            actions: Rate::new(self.rate_meeting_per_sec, self.rate_meeting_burst),
        }
    }

    pub fn ice(&self) -> IceConfig {
        IceConfig {
            stun_urls: self.stun_urls.0.clone(),
            turn_urls: self.turn_urls.0.clone(),
            turn_secret: self.turn_secret.clone().filter(|s| !s.is_empty()),
            turn_ttl: self.turn_ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Command, FromArgMatches};

    #[test]
    fn the_defaults_are_the_documented_limits_and_no_ice_servers() {
        let cmd =
            MeetingArgs::augment_args(Command::new("serve")).mut_args(|a| a.env(None::<&str>));
        let m = cmd.try_get_matches_from(["serve"]).expect("defaults parse");
        let a = MeetingArgs::from_arg_matches(&m).expect("defaults");
        assert_eq!(a.limits(), MeetingLimits::default());
        let ice = a.ice();
        assert!(ice.stun_urls.is_empty() && ice.turn_urls.is_empty());
        assert_eq!(ice.turn_ttl, 86400);
    }

    #[test]
    fn url_lists_split_on_commas_and_refuse_other_schemes() {
        assert_eq!(
            url_list(" stun:a:3478, ,turn:b?transport=udp").unwrap().0,
            ["stun:a:3478", "turn:b?transport=udp"]
        );
        assert!(url_list("http://x").is_err());
        assert!(url_list("").unwrap().0.is_empty());
    }
}
