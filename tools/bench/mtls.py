#!/usr/bin/env python3
"""The cost of meshlb's mTLS hop, beside plaintext and beside HAProxy doing the same TLS.

A mesh hop is two proxies: web's sidecar (plaintext in from the app, mTLS out) and api's
sidecar (mTLS in, plaintext to the app, an nginx that answers "ok"). Each proxy is its own
process, pinned to CPU 1 (meshlb with GOMAXPROCS=1, HAProxy with nbthread 1); the load
generator and the backend are pinned to CPU 0. Certificates are what Consul Connect issues:
an ECDSA P-256 CA and leaves with a SPIFFE URI SAN; TLS 1.3.

Three measurements, all in the same run so they compare (absolute figures swing up to 2x
between runs on a shared machine; compare only within one run):
  hop        wrk (keep-alive) through both proxies: req/s, p99 and cpu_us/req of the two
             proxies together, plaintext and mTLS, for meshlb and HAProxy.
  handshake  `openssl s_time -new` (full handshakes, client certificate) against api's
             sidecar: handshakes per second of the proxy's own CPU (per core).
  idle       --conns mTLS keep-alive connections to api's sidecar, one request each, then
             idle: RSS growth per connection after --settle seconds.

Needs (Debian): haproxy nginx wrk openssl; meshlb built (`go build -o bin/meshlb ./cmd/meshlb`).
Usage: tools/bench/mtls.py [--meshlb bin/meshlb] [--secs 5] [--conns 64] [--idle 2000]
                           [--settle 15] [--only hop,handshake,idle]
"""
import argparse, os, re, resource, shlex, signal, socket, ssl, subprocess, sys, tempfile, time

TICK = os.sysconf("SC_CLK_TCK")
BACKEND, M_OUT, M_IN, H_OUT, H_IN = 18281, 18210, 18211, 18220, 18221
TD = "bench.consul"
SPIFFE = lambda svc: f"spiffe://{TD}/ns/default/dc/dc1/svc/{svc}"


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def certs(d):
    """An ECDSA P-256 CA and leaves for web and api with SPIFFE URI SANs, as Connect issues."""
    sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{d}/ca.key")
    sh("openssl", "req", "-x509", "-new", "-key", f"{d}/ca.key", "-subj", "/CN=bench CA", "-days", "2",
       "-addext", f"subjectAltName=URI:spiffe://{TD}", "-out", f"{d}/ca.pem")
    for svc in ("web", "api"):
        sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{d}/{svc}.key")
        sh("openssl", "req", "-new", "-key", f"{d}/{svc}.key", "-subj", f"/CN={svc}", "-out", f"{d}/{svc}.csr")
        ext = f"{d}/{svc}.ext"
        open(ext, "w").write(f"subjectAltName=URI:{SPIFFE(svc)},DNS:{svc}\nbasicConstraints=CA:FALSE\n"
                             "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n")
        sh("openssl", "x509", "-req", "-in", f"{d}/{svc}.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
           "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{d}/{svc}.pem")
        open(f"{d}/{svc}.full.pem", "w").write(open(f"{d}/{svc}.pem").read() + open(f"{d}/{svc}.key").read())


def tls_common(d, svc, peer):
    return f"""
          common_tls_context:
            tls_params: {{ tls_minimum_protocol_version: TLSv1_2, tls_maximum_protocol_version: TLSv1_3 }}
            tls_certificates:
            - certificate_chain: {{ filename: {d}/{svc}.pem }}
              private_key: {{ filename: {d}/{svc}.key }}
            validation_context:
              trusted_ca: {{ filename: {d}/ca.pem }}
              match_typed_subject_alt_names:
              - san_type: URI
                matcher: {{ exact: "{SPIFFE(peer)}" }}"""


def hcm(prefix, cluster):
    return f"""
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: {prefix}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{{ match: {{ prefix: "/" }}, route: {{ cluster: {cluster} }} }}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}"""


def bootstrap(d, side, mtls, admin):
    """web: plaintext listener on M_OUT to cluster api (mTLS out); api: listener on M_IN (mTLS
    in, client certificate required, web's SPIFFE ID) to the backend."""
    port, cluster, target = (M_OUT, "api", M_IN) if side == "web" else (M_IN, "app", BACKEND)
    down = up = ""
    if mtls and side == "api":
        down = f"""
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true""" + tls_common(d, "api", "web")
    if mtls and side == "web":
        up = f"""
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: api""" + tls_common(d, "web", "api").replace("\n  ", "\n")
    path = f"{d}/{side}-{'mtls' if mtls else 'plain'}.yaml"
    open(path, "w").write(f"""node: {{ id: {side}, cluster: {side} }}
admin: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }} }}
static_resources:
  listeners:
  - name: {side}
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
    filter_chains:
    - filters:{hcm(side, cluster)}{down}
  clusters:
  - name: {cluster}
    type: STATIC
    connect_timeout: 5s
    load_assignment:
      cluster_name: {cluster}
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {target} }} }} }}{up}
""")
    return path


def haproxy_cfg(d, side, mtls):
    """The same hop in HAProxy. It checks the peer's chain, not its SPIFFE ID (no URI SAN
    matching), so it does slightly less than meshlb per handshake."""
    head = "global\n  nbthread 1\n  maxconn 8000\ndefaults\n  mode http\n" \
           "  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  option http-keep-alive\n"
    if side == "web":
        tls = f" ssl crt {d}/web.full.pem ca-file {d}/ca.pem verify required sni str(api) alpn http/1.1" if mtls else ""
        body = f"frontend fe\n  bind 127.0.0.1:{H_OUT}\n  default_backend be\nbackend be\n  http-reuse always\n" \
               f"  server api 127.0.0.1:{H_IN}{tls}\n"
    else:
        tls = f" ssl crt {d}/api.full.pem ca-file {d}/ca.pem verify required ssl-min-ver TLSv1.2" if mtls else ""
        body = f"frontend fe\n  bind 127.0.0.1:{H_IN}{tls}\n  default_backend be\nbackend be\n  http-reuse always\n" \
               f"  server app 127.0.0.1:{BACKEND}\n"
    path = f"{d}/haproxy-{side}-{'mtls' if mtls else 'plain'}.cfg"
    open(path, "w").write(head + body)
    return path


def nginx_backend(d):
    path = f"{d}/backend.conf"
    open(path, "w").write(f"""daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/nginx.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{BACKEND}; location / {{ return 200 "ok"; }} }} }}
""")
    return path


def cpu(pid):
    """user+sys seconds of pid and its threads."""
    s = open(f"/proc/{pid}/stat").read()
    rest = s[s.rfind(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


def wait_port(port, timeout=15):
    t = time.time()
    while time.time() - t < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Proxies:
    """The two proxies of one hop, pinned to CPU 1."""

    def __init__(self, d, kind, mtls, meshlb):
        env = dict(os.environ, GOMAXPROCS="1")
        self.procs = []
        for side, admin in (("api", 18291), ("web", 18292)):
            if kind == "meshlb":
                cmd = [meshlb, "sidecar", "--config", bootstrap(d, side, mtls, admin), "--log-level", "warn"]
            else:
                cmd = ["haproxy", "-f", haproxy_cfg(d, side, mtls)]
            self.procs.append(subprocess.Popen(["taskset", "-c", "1"] + cmd, stdout=subprocess.DEVNULL,
                                               stderr=open(f"{d}/{kind}-{side}.log", "w"), env=env,
                                               start_new_session=True))
        out, inn = (M_OUT, M_IN) if kind == "meshlb" else (H_OUT, H_IN)
        assert wait_port(inn) and wait_port(out), f"{kind} did not listen; see {d}/{kind}-*.log"
        self.out, self.inn, self.api = out, inn, self.procs[0].pid

    def cpu(self):
        return sum(cpu(p.pid) for p in self.procs)

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(5)
            except Exception:
                os.killpg(p.pid, signal.SIGKILL)


def wrk(port, secs, conns):
    out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency",
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", out)).get("99", "?")
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return total, rps, p99, (int(errs.group(1)) if errs else 0)


def hop(d, a):
    print(f"{'hop':16} {'req/s':>8} {'p99':>8} {'cpu_us/req':>10} errors", flush=True)
    for kind in ("meshlb", "haproxy"):
        for mtls in (False, True):
            p = Proxies(d, kind, mtls, a.meshlb)
            try:
                wrk(p.out, 1, a.conns)  # warm-up: open every connection
                c0 = p.cpu()
                total, rps, p99, errs = wrk(p.out, a.secs, a.conns)
                us = (p.cpu() - c0) / total * 1e6
                print(f"{kind + (' mtls' if mtls else ' plain'):16} {rps:8.0f} {p99:>8} {us:10.1f} {errs}", flush=True)
            finally:
                p.stop()


def handshake(d, a):
    for kind in ("meshlb", "haproxy"):
        p = Proxies(d, kind, True, a.meshlb)
        try:
            c0 = cpu(p.api)
            out = subprocess.run(["taskset", "-c", "0", "openssl", "s_time", "-connect", f"127.0.0.1:{p.inn}", "-new",
                                  "-cert", f"{d}/web.pem", "-key", f"{d}/web.key", "-CAfile", f"{d}/ca.pem",
                                  "-time", str(a.secs)], capture_output=True, text=True).stdout
            used = cpu(p.api) - c0
            m = re.search(r"(\d+) connections in ([\d.]+)s", out)
            n = int(m.group(1)) if m else 0
            per_core = n / used if used else 0
            print(f"handshake {kind:8} {n} full handshakes in {a.secs}s, {used:.2f} cpu s: "
                  f"{per_core:.0f} handshakes/s per core", flush=True)
        finally:
            p.stop()


def still_open(socks):
    """How many of socks the proxy kept open: a figure for connections it
    closed measures nothing."""
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1):
                continue  # stray bytes: not an idle keep-alive connection
        except (BlockingIOError, ssl.SSLWantReadError):
            alive += 1
        except OSError:
            pass
    return alive


def idle(d, a):
    ctx = ssl.create_default_context(cafile=f"{d}/ca.pem")
    ctx.check_hostname = False
    ctx.load_cert_chain(f"{d}/web.pem", f"{d}/web.key")
    for kind in ("meshlb", "haproxy"):
        p = Proxies(d, kind, True, a.meshlb)
        socks = []
        try:
            time.sleep(1)
            r0 = rss_kib(p.api)
            for _ in range(a.idle):
                s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", p.inn)), server_hostname="api")
                s.sendall(b"GET / HTTP/1.1\r\nHost: api\r\n\r\n")
                socks.append(s)
            for s in socks:
                s.recv(4096)
            time.sleep(a.settle)
            r1 = rss_kib(p.api)
            print(f"idle {kind:8} {a.idle} mTLS keep-alive conns after {a.settle:.0f}s idle: "
                  f"+{r1 - r0} KiB RSS = {(r1 - r0) / a.idle:.1f} KiB/conn (base {r0} KiB), "
                  f"{still_open(socks)} still open", flush=True)
        finally:
            for s in socks:
                s.close()
            p.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshlb", default="bin/meshlb")
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--settle", type=float, default=15)
    ap.add_argument("--only", default="hop,handshake,idle")
    a = ap.parse_args()
    a.meshlb = os.path.abspath(a.meshlb)
    h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
    d = tempfile.mkdtemp(prefix="mtls-bench-")
    certs(d)
    be = subprocess.Popen(["taskset", "-c", "0", "nginx", "-c", nginx_backend(d)], start_new_session=True)
    assert wait_port(BACKEND), "backend nginx did not start"
    try:
        for part in a.only.split(","):
            {"hop": hop, "handshake": handshake, "idle": idle}[part](d, a)
    finally:
        os.killpg(be.pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
