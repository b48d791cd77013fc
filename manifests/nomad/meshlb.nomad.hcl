# meshlb control server as a Nomad service job: two stateless instances on
# different clients, each serving the services.yaml rendered below on port
# 18000, registered as the Nomad service "meshlb-control".
#
#   nomad job run meshlb.nomad.hcl
#
# Needs /usr/local/bin/meshlb on the clients (the exec driver's chroot
# includes /usr). Sidecars run `meshlb sidecar --xds <client address>:18000
# --node-id <id>` (see ../systemd/meshlb-sidecar@.service).
job "meshlb-control" {
  datacenters = ["dc1"]
  type        = "service"

  update {
    max_parallel     = 1
    min_healthy_time = "10s"
    healthy_deadline = "2m"
    auto_revert      = true
  }

  group "control" {
    count = 2

    # Static port 18000: one instance per client.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "xds" {
        static = 18000
      }
    }

    service {
      name     = "meshlb-control"
      port     = "xds"
      provider = "nomad"

      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 10
      interval = "5m"
      delay    = "5s"
      mode     = "delay"
    }

    task "control" {
      driver = "exec"

      config {
        command = "/usr/local/bin/meshlb"
        args = [
          "control",
          "--services", "${NOMAD_TASK_DIR}/services.yaml",
          "--xds-addr", "0.0.0.0:${NOMAD_PORT_xds}",
        ]
      }

      # The control server watches this file, so a re-render needs no
      # restart. Addresses must be IP addresses. Check with `meshlb validate`.
      template {
        destination = "local/services.yaml"
        change_mode = "noop"
        data        = <<-EOT
          services:
            - name: web
              protocol: http
              endpoints:
                - address: 10.0.0.21
                  port: 8080
                - address: 10.0.0.22
                  port: 8080
            - name: frontend
              protocol: http
              endpoints:
                - address: 10.0.0.31
                  port: 18321
              sidecar:
                id: frontend
                inbound_address: 0.0.0.0
                inbound_port: 18321
                local_port: 8080
                upstreams:
                  - service: web
                    bind_port: 18401
        EOT
      }

      kill_timeout = "15s"

      resources {
        cpu    = 200 # MHz
        memory = 128 # MB
      }
    }
  }
}
