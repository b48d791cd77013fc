#!/usr/bin/env python3
"""HTTP/2 benchmark: meshlb beside HAProxy, same run, one core each.

A client speaking h2c with prior knowledge (h2load, Debian nghttp2-client)
drives each proxy in turn; each proxy forwards HTTP/1.1 to the same nginx
origin (a tiny fixed body). The load generator and the origin are pinned
to CPU 0, each proxy to CPU 1, so a proxy's figures are one core's:
requests/s, and CPU microseconds per request (user+sys of the proxy's
process tree from /proc, over the load run).

Needs: h2load (nghttp2-client), haproxy, nginx, taskset, and a meshlb
binary (go build -o /tmp/meshlb ./cmd/meshlb).

Usage: tools/h2bench/run.py --meshlb /tmp/meshlb [--runs 3] [--requests 200000]
       [--clients 32] [--streams 10]
--meshlb may be repeated as NAME=PATH to compare builds in the same run,
e.g. --meshlb old=/tmp/meshlb-main --meshlb new=/tmp/meshlb.
"""
import argparse, os, re, shlex, signal, socket, subprocess, sys, tempfile, time

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def tree_cpu(root):
    """user+sys seconds of root and its descendants."""
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                s = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            rest = s[s.rfind(")") + 2:].split()
            procs[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
    want, changed = {root}, True
    while changed:
        changed = False
        for pid, (ppid, _) in procs.items():
            if ppid in want and pid not in want:
                want.add(pid)
                changed = True
    return sum(procs[p][1] for p in want if p in procs) / TICK


def start(cpu, cmd, log):
    return subprocess.Popen(["taskset", "-c", cpu] + cmd, stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"), start_new_session=True)


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(5)
    except Exception:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except Exception:
            pass


def h2load(port, args):
    cmd = ["taskset", "-c", "0", "h2load", "-n", str(args.requests), "-c", str(args.clients),
           "-m", str(args.streams), f"http://127.0.0.1:{port}/"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", out)
    return rps, int(m.group(1)), int(m.group(2)), int(m.group(3))


def configs(d, origin, meshes, hap):
    open(f"{d}/origin.conf", "w").write(f"""worker_processes 1;
daemon off;
pid {d}/origin.pid;
error_log {d}/origin.err warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{origin} backlog=4096;
    location / {{ return 200 "hello from the origin ..........................................................\\n"; }}
  }}
}}
""")
    open(f"{d}/haproxy.cfg", "w").write(f"""global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:{hap} proto h2
  default_backend be
backend be
  http-reuse always
  server o1 127.0.0.1:{origin}
""")
    for i, (mesh, mesh_admin) in enumerate(meshes):
        mesh_config(d, i, origin, mesh, mesh_admin)


def mesh_config(d, i, origin, mesh, mesh_admin):
    open(f"{d}/envoy{i}.yaml", "w").write(f"""node: {{ id: bench, cluster: bench }}
admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: {mesh_admin} }} }}
static_resources:
  listeners:
  - name: h2
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {mesh} }} }}
    filter_chains:
    - filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: h2
          codec_type: AUTO
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{ prefix: "/" }}
                route: {{ cluster: origin }}
          http_filters:
          - name: router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}
  clusters:
  - name: origin
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: origin
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {origin} }} }} }}
""")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshlb", action="append", required=True, help="PATH or NAME=PATH; repeatable")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--streams", type=int, default=10)
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="h2bench-")
    builds = [m.split("=", 1) if "=" in m else ["meshlb", m] for m in args.meshlb]
    origin, hap = free_port(), free_port()
    meshes = [(free_port(), free_port()) for _ in builds]
    configs(d, origin, meshes, hap)
    procs = [start("0", ["nginx", "-c", f"{d}/origin.conf"], f"{d}/origin.log")]
    try:
        proxies = {}
        for i, ((name, path), (mesh, _)) in enumerate(zip(builds, meshes)):
            proxies[name] = (start("1", [path, "sidecar", "--config", f"{d}/envoy{i}.yaml"], f"{d}/{name}.log"), mesh)
        proxies["haproxy"] = (start("1", ["haproxy", "-f", f"{d}/haproxy.cfg"], f"{d}/haproxy.log"), hap)
        procs += [p for p, _ in proxies.values()]
        for name, (p, port) in proxies.items():
            if not wait_port(port):
                sys.exit(f"{name} did not start; see {d}")
        assert wait_port(origin), "origin did not start"
        print(f"h2load -n {args.requests} -c {args.clients} -m {args.streams} (h2c), proxies on CPU 1, HTTP/1.1 upstream")
        print(f"{'run':>3} {'proxy':<8} {'req/s':>10} {'cpu_us/req':>10} {'failed':>7}")
        for run in range(1, args.runs + 1):
            for name, (p, port) in proxies.items():
                h2load(port, argparse.Namespace(requests=2000, clients=4, streams=4))  # warm-up
                c0 = tree_cpu(p.pid)
                rps, done, ok, failed = h2load(port, args)
                cpu = tree_cpu(p.pid) - c0
                print(f"{run:>3} {name:<8} {rps:>10.0f} {cpu / max(done, 1) * 1e6:>10.1f} {failed:>7}", flush=True)
    finally:
        for p in procs:
            stop(p)


if __name__ == "__main__":
    main()
