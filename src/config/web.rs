//! Settings of the web client served at `/app/`.

use clap::Args;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Web client")]
pub struct WebArgs {
    /// The Socket.IO URL the web client at /app/ connects to, as browsers reach it (e.g. https://chat.example.org:4501 behind a load balancer) (default: the page's host and this node's Socket.IO port)
    #[arg(long, env = "CLASSCHAT_WEB_SOCKET_URL", value_name = "URL")]
    pub web_socket_url: Option<String>,
}
