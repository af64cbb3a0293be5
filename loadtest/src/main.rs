//! classchat-load: load scenarios against one or more classchat nodes, with a progress
//! line while it runs and one JSON object (stdout) at the end.

mod scenarios;
mod sio;
mod stats;
mod ws;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Scenario {
    /// Ramp N authenticated sockets, hold them, report connect rate and memory per socket.
    Connect,
    /// R rooms x M members, messages at a total rate; latency and delivery accounting.
    Fanout,
    /// Users connecting and leaving; status updates seen by watchers.
    PresenceChurn,
    /// Members of rooms sending typing indicators.
    TypingStorm,
    /// M meetings of `--members` peers; `meeting-signal` between random pairs of peers
    /// of a meeting at a total rate (a list of steps); relay latency and accounting.
    MeetingSignal,
    /// One meeting of `--members` peers all joining within `--join-window` seconds; time
    /// until every peer's participant list is right.
    MeetingStorm,
    /// One message in a room of `--members` members; `--reactors` of them toggle a
    /// reaction at `--rate` reactions/s together; latency and delivery accounting.
    ReactionFanout,
    /// R rooms x M members all connecting and joining (`--concurrency` at a time) while
    /// one sender per room already sends at `--rate`: message latency during the storm,
    /// status events per socket, seconds until the nodes are quiet and presence settled.
    ClassStart,
    /// `--concurrency` users uploading `--upload-kib` KiB files back to back.
    Upload,
    /// `GET /chat/search` at `--rate` queries per second for `--duration` seconds by the
    /// users `<prefix>-u0 ..` (`--members` of them) of a seeded database
    /// (`loadtest/search/seed.sql`); latency of whole answers.
    Search,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Via {
    Socket,
    Rest,
}

#[derive(Parser, Debug, Clone)]
#[command(name = "classchat-load", about = "Load scenarios for classchat nodes")]
pub struct Args {
    pub scenario: Scenario,
    /// REST base URL of each node (repeat), e.g. http://127.0.0.1:4500
    #[arg(long = "api", required = true)]
    pub apis: Vec<String>,
    /// Socket.IO address of each node (repeat, same order), e.g. 127.0.0.1:4501
    #[arg(long = "socket", required = true)]
    pub sockets: Vec<SocketAddr>,
    /// HS256 secret of the nodes (CLASSCHAT_JWT_SECRET).
    #[arg(long, env = "CLASSCHAT_JWT_SECRET")]
    pub secret: String,
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    #[arg(long, default_value_t = 100)]
    pub members: usize,
    /// Messages (or typing events) per second, all rooms together. fanout takes a list
    /// (`10,20,40`): one step per rate, over the same sockets.
    #[arg(long, value_delimiter = ',', default_value = "100", required = false)]
    pub rate: Vec<f64>,
    /// Seconds of load (fanout, churn, typing, meeting-signal) or of holding (connect).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds within which every peer sends `meeting-join`, evenly spaced (meeting-storm).
    #[arg(long, default_value_t = 2.0)]
    pub join_window: f64,
    #[arg(long, value_enum, default_value_t = Via::Socket)]
    pub via: Via,
    /// Sockets to open (connect scenario).
    #[arg(long, default_value_t = 1000)]
    pub sockets_total: usize,
    /// Spread client source addresses over 127.0.0.1 ..= 127.0.0.N.
    #[arg(long, default_value_t = 1)]
    pub source_ips: u8,
    /// Connections opened at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Server process ids to read memory and CPU from (repeat).
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// Members who react (reaction-fanout).
    #[arg(long, default_value_t = 50)]
    pub reactors: usize,
    /// Size of each uploaded file in KiB (upload).
    #[arg(long, default_value_t = 1024)]
    pub upload_kib: usize,
    /// Sockets opt into batched status updates (`auth.statusUpdates = "batched"`).
    #[arg(long)]
    pub batched: bool,
    /// Prefix of generated user ids, so runs do not collide.
    #[arg(long, default_value = "load")]
    pub prefix: String,
}

impl Args {
    pub fn token(&self, sub: &str, role: &str) -> String {
        let exp = stats::now_micros() / 1_000_000 + 24 * 3600;
        let claims = json!({ "sub": sub, "role": role, "name": sub, "exp": exp });
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .expect("HS256 encoding")
    }

    /// The node for the i-th connection, and the source address to connect from.
    pub fn place(&self, i: usize) -> (SocketAddr, Option<IpAddr>) {
        let node = self.sockets[i % self.sockets.len()];
        let ip = (self.source_ips > 1).then(|| {
            IpAddr::V4(Ipv4Addr::new(
                127,
                0,
                0,
                1 + (i % self.source_ips as usize) as u8,
            ))
        });
        (node, ip)
    }

    pub fn api(&self, i: usize) -> &str {
        &self.apis[i % self.apis.len()]
    }

    /// Memory and CPU of the given server processes.
    pub fn servers(&self) -> Vec<(u32, u64, f64)> {
        self.server_pids
            .iter()
            .filter_map(|p| stats::process(*p).map(|(rss, cpu)| (*p, rss, cpu)))
            .collect()
    }
}

/// REST call with a bearer token; the JSON answer (error answers are errors).
pub async fn rest(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut req = http.request(method, &url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        Ok(v)
    } else {
        Err(format!("{url}: {status} {v}"))
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.apis.len() != args.sockets.len() {
        eprintln!("classchat-load: give as many --api as --socket, in the same order");
        std::process::exit(2);
    }
    let started = std::time::Instant::now();
    let st = Arc::new(stats::Stats::new());
    let result = match args.scenario {
        Scenario::Connect => scenarios::connect(&args, &st).await,
        Scenario::Fanout => scenarios::fanout(&args, &st).await,
        Scenario::PresenceChurn => scenarios::presence_churn(&args, &st).await,
        Scenario::TypingStorm => scenarios::typing_storm(&args, &st).await,
        Scenario::MeetingSignal => scenarios::meeting_signal(&args, &st).await,
        Scenario::MeetingStorm => scenarios::meeting_storm(&args, &st).await,
        Scenario::ReactionFanout => scenarios::reaction_fanout(&args, &st).await,
        Scenario::Upload => scenarios::upload(&args, &st).await,
        Scenario::Search => scenarios::search(&args, &st).await,
        Scenario::ClassStart => scenarios::class_start(&args, &st).await,
    };
    match result {
        Ok(mut report) => {
            report["scenario"] = json!(format!("{:?}", args.scenario));
            // Nodes measured (behind a load balancer there is one endpoint for several).
            report["nodes"] = json!(args.server_pids.len().max(args.sockets.len()));
            report["endpoints"] = json!(args.sockets.len());
            report["elapsedSeconds"] = json!(started.elapsed().as_secs_f64());
            eprint!("{}", summary(&report));
            println!("{report}");
        }
        Err(e) => {
            eprintln!("classchat-load: {e}");
            std::process::exit(1);
        }
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// The human summary (stderr) of a report; the JSON goes to stdout.
fn summary(r: &Value) -> String {
    let n = |k: &str| r[k].as_f64().unwrap_or(0.0);
    let mut out = format!(
        "\n== {} against {} node(s)\n",
        r["scenario"].as_str().unwrap_or("?"),
        r["nodes"]
    );
    match args_scenario(r) {
        "Connect" => {
            out += &format!(
                "{} sockets in {:.1} s: {:.0} connects/s, {} errors; server memory per socket {}\n",
                r["sockets"],
                n("connectSeconds"),
                n("connectsPerSecond"),
                r["connectErrors"],
                r["servers"]
                    .as_array()
                    .map(|s| s
                        .iter()
                        .map(|x| format!("{:.1} KiB", x["kibPerSocket"].as_f64().unwrap_or(0.0)))
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default(),
            )
        }
        "Fanout" => {
            out += &format!(
                "{} rooms x {} members, {} receivers connected in {:.1} s; lost {}, duplicated {}, out of order {}\n",
                r["rooms"], r["members"], r["receivers"], n("connectSeconds"), r["lost"], r["duplicated"], r["outOfOrder"],
            );
            for s in r["steps"].as_array().into_iter().flatten() {
                let l = &s["latencyMs"];
                out += &format!(
                    "  {:>6} msg/s: {:>8.0} deliveries/s  p50 {:>6.1} p99 {:>7.1} max {:>7.1} ms  server {:>5.2} us/delivery  send errors {}\n",
                    s["rate"], s["deliveriesPerSecond"].as_f64().unwrap_or(0.0),
                    l["p50"].as_f64().unwrap_or(0.0), l["p99"].as_f64().unwrap_or(0.0), l["max"].as_f64().unwrap_or(0.0),
                    s["serverCpuMicrosPerDelivery"].as_f64().unwrap_or(0.0), s["sendErrors"],
                );
            }
        }
        "ClassStart" => {
            let l = &r["latencyMs"];
            let ms = |k: &str| l[k].as_f64().unwrap_or(0.0);
            out += &format!(
                "{} rooms x {} members{}: {} sockets joined in {:.1} s ({} errors); messages during the storm p50 {:.1} p99 {:.1} max {:.1} ms ({} sent, {} acked, ack p99 {:.1} ms); {:.1} status events ({:.1} users) per socket; presence settled {:.2} s and nodes quiet {:.1} s after the last join; counts wrong {} of {}; server CPU {:.1} s\n",
                r["rooms"], r["members"], if r["batched"] == true { " (batched)" } else { "" },
                r["sockets"], n("stormSeconds"), r["connectErrors"], ms("p50"), ms("p99"), ms("max"),
                r["sent"], r["acked"], r["ackMs"]["p99"].as_f64().unwrap_or(0.0), n("statusEventsPerSocket"), n("statusUsersPerSocket"),
                n("presenceSettledSeconds"), n("quietSeconds"), r["countsWrong"], r["socketsWithCount"],
                n("serverCpuSeconds"),
            );
        }
        "MeetingSignal" => {
            out += &format!(
                "{} meetings x {} peers, joined in {:.1} s; lost {}, duplicated {}, out of order {}, misattributed {}, errors {}\n",
                r["meetings"], r["members"], n("joinSeconds"), r["lost"], r["duplicated"], r["outOfOrder"],
                r["misattributed"], r["errors"],
            );
            for s in r["steps"].as_array().into_iter().flatten() {
                let l = &s["latencyMs"];
                let ms = |k: &str| l[k].as_f64().unwrap_or(0.0);
                out += &format!(
                    "  {:>7} signals/s: {:>7.0} relayed/s  p50 {:>5.1} p90 {:>5.1} p99 {:>6.1} p99.9 {:>6.1} max {:>6.1} ms  {}  server {:>5.1} us/signal  errors {}  machine {:.2} cores busy\n",
                    s["rate"], s["relayedPerSecond"].as_f64().unwrap_or(0.0),
                    ms("p50"), ms("p90"), ms("p99"), ms("p999"), ms("max"),
                    if s["p99Under50ms"] == true { "p99 < 50 ms" } else { "p99 >= 50 ms" },
                    s["serverCpuMicrosPerSignal"].as_f64().unwrap_or(0.0), s["sendErrors"],
                    s["machineCpuSeconds"].as_f64().unwrap_or(0.0) / s["stepSeconds"].as_f64().unwrap_or(1.0),
                );
            }
            out += &match r["heldAtP99Under50ms"]["relayedPerSecond"].as_f64() {
                Some(x) => format!(
                    "held at p99 < 50 ms with nothing lost: {x:.0} relayed/s (step {})\n",
                    r["heldAtP99Under50ms"]["rate"]
                ),
                None => "no step held p99 < 50 ms with nothing lost\n".to_string(),
            };
        }
        "MeetingStorm" => {
            let a = &r["joinAckMs"];
            out += &format!(
                "{} peers joining within {:.1} s: {}; last join sent at {:.0} ms, last ack at {:.0} ms; join ack p50 {:.1} p99 {:.1} max {:.1} ms; join errors {} {}\n",
                r["peers"], n("joinWindowSeconds"),
                match r["allListsRightMs"].as_f64() {
                    Some(ms) => format!(
                        "every participant list right {ms:.0} ms after the first join ({:.1} ms after the last)",
                        n("afterLastJoinSentMs")
                    ),
                    None => format!("NOT converged ({} of {} lists right)", r["listsRight"], r["peers"]),
                },
                n("lastJoinSentMs"), n("lastJoinAckedMs"),
                a["p50"].as_f64().unwrap_or(0.0), a["p99"].as_f64().unwrap_or(0.0), a["max"].as_f64().unwrap_or(0.0),
                r["joinErrors"], r["errors"],
            );
        }
        "Search" => {
            let l = &r["latencyMs"];
            let ms = |k: &str| l[k].as_f64().unwrap_or(0.0);
            out += &format!(
                "{} queries at {:.1}/s by {} users: p50 {:.1} p90 {:.1} p99 {:.1} max {:.1} ms; {:.1} hits per query, {} empty, {} errors; server {:.2} ms CPU per query\n",
                r["queries"], n("sentPerSecond"), r["users"], ms("p50"), ms("p90"), ms("p99"), ms("max"),
                n("hitsPerQuery"), r["emptyAnswers"], r["errors"], n("serverCpuMillisPerQuery"),
            );
        }
        _ => {
            for (k, v) in r.as_object().into_iter().flatten() {
                if v.is_number() {
                    out += &format!("  {k}: {v}\n");
                }
            }
        }
    }
    out
}

fn args_scenario(r: &Value) -> &str {
    r["scenario"].as_str().unwrap_or("")
}
