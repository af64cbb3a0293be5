# Base images for deploy/containers/ci.sh (sourced), made on this machine because no
# container registry is reachable: debian:bookworm-slim by debootstrap from the apt mirror,
# a Rust builder from the host's rustup toolchain, and PostgreSQL, Redis, HAProxy and
# Prometheus from Debian packages, each tagged with the name docker-compose.yml uses.
# Each is made once and kept in podman's storage (outside the clone).

step "base image localhost/debian:bookworm-slim (debootstrap from the apt mirror)"
if ! podman image exists localhost/debian:bookworm-slim; then
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)
  R="$WORK/rootfs"; rm -rf "$R"
  debootstrap --variant=minbase bookworm "$R" "$MIRROR" >/dev/null   # (its log names the mirror)
  rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* \
         "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/info/* "$R"/var/log/apt/*
  find "$R/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    rm -f "$R/etc/apt/sources.list"; cp /etc/apt/sources.list.d/*.sources "$R/etc/apt/sources.list.d/"
  fi
  printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n' \
    > "$R/etc/dpkg/dpkg.cfg.d/slim"
  # apt settings of the official debian images (no .deb or pkgcache.bin left in layers)
  printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' > "$R/etc/apt/apt.conf.d/docker-clean"
  echo 'Acquire::Languages "none";' > "$R/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' > "$R/etc/apt/apt.conf.d/docker-gzip-indexes"
  : > "$R/etc/resolv.conf"
  tar --numeric-owner -C "$R" -c . | podman import --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - localhost/debian:bookworm-slim >/dev/null
  rm -rf "$R"
fi

step "builder image localhost/rust:1-bookworm (the host's rustup toolchain; Debian's cargo 0.66 cannot read Cargo.lock v4)"
if ! podman image exists localhost/rust:1-bookworm; then
  C="$WORK/img-rust"; rm -rf "$C"; mkdir -p "$C"
  cp /usr/local/share/ca-certificates/*.crt "$C/" 2>/dev/null || true   # TLS-intercepting egress CA, if any
  TC=$(rustc --print sysroot)
  cat > "$C/Containerfile" <<'EOF'
FROM localhost/debian:bookworm-slim
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY . /tmp/ctx
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev make pkg-config curl git \
 && rm -rf /var/lib/apt/lists/* && (cp /tmp/ctx/*.crt /usr/local/share/ca-certificates/ 2>/dev/null || true) \
 && update-ca-certificates && rm -rf /tmp/ctx
RUN set -e; T=/usr/local/rustup/toolchains/stable-x86_64-unknown-linux-gnu; mkdir -p $T $CARGO_HOME/bin; \
    cp -a /mnt/tc/bin /mnt/tc/lib /mnt/tc/libexec /mnt/tc/etc $T/ 2>/dev/null || cp -a /mnt/tc/bin /mnt/tc/lib $T/; \
    for b in $T/bin/*; do ln -s $b $CARGO_HOME/bin/; done; chmod -R a+w $CARGO_HOME; cargo --version
CMD ["bash"]
EOF
  podman build -q --format docker -v "$TC:/mnt/tc:ro" -t localhost/rust:1-bookworm "$C" >/dev/null
fi

step "service images from Debian packages (postgres 15 as :16, redis 7.0, haproxy 2.6 as :2.8, prometheus 2.42 as v3.5.0)"
mk() {  # mk NAME:TAG <<Containerfile ; entrypoint (optional) in $EP
  local tag=$1 name=${1%%:*}; local c="$WORK/img-${name//\//-}"
  podman image exists "localhost/$tag" && return 0
  rm -rf "$c"; mkdir -p "$c"; cat > "$c/Containerfile"; printf '%s\n' "${EP:-#!/bin/sh}" > "$c/entrypoint.sh"
  podman build -q --format docker -t "localhost/$tag" "$c" >/dev/null
}
NORC='printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
EP='#!/bin/bash
set -euo pipefail
[ "${1:-}" = postgres ] || exec "$@"; shift
if [ "$(id -u)" = 0 ]; then install -d -o postgres -g postgres -m 700 "$PGDATA"; chown -R postgres:postgres "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"; fi
user="${POSTGRES_USER:-postgres}"; db="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw=$(mktemp); printf "%s\n" "${POSTGRES_PASSWORD:?}" > "$pw"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 >/dev/null; rm -f "$pw"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then pg_ctl -D "$PGDATA" -o "-c listen_addresses=" -w start >/dev/null
    createdb -U "$user" "$db"; pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null; fi
fi
exec postgres -D "$PGDATA" -c listen_addresses="*" "$@"' mk postgres:16-bookworm <<EOF
FROM localhost/debian:bookworm-slim
RUN $NORC && apt-get update && apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/#(create_main_cluster) .*\$/\1 = false/' /etc/postgresql-common/createcluster.conf \
 && apt-get install -y --no-install-recommends postgresql-15 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 2775 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:\$PATH PGDATA=/var/lib/postgresql/data
COPY --chmod=0755 entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
EP='#!/bin/bash
set -e
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
  if [ ! -f "${2:-}" ]; then shift; set -- redis-server --protected-mode no "$@"; fi
  [ "$(id -u)" = 0 ] && exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"' mk redis:7-bookworm <<EOF
FROM localhost/debian:bookworm-slim
RUN $NORC && apt-get update && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* && install -d -o redis -g redis /data
COPY --chmod=0755 entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
EOF
EP='#!/bin/sh
set -e
if [ "${1#-}" != "$1" ]; then set -- haproxy "$@"; fi
if [ "$1" = haproxy ]; then shift; set -- haproxy -W -db "$@"; fi
exec "$@"' mk haproxy:2.8-bookworm <<EOF
FROM localhost/debian:bookworm-slim
RUN $NORC && apt-get update && apt-get install -y --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/* && install -d /usr/local/etc/haproxy
COPY --chmod=0755 entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER haproxy
STOPSIGNAL SIGUSR1
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
EOF
EP= mk prom/prometheus:v3.5.0 <<EOF
FROM localhost/debian:bookworm-slim
RUN $NORC && apt-get update && apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* && install -d -o nobody -g nogroup /prometheus
USER nobody
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF

