# A service with a meshlb sidecar, registered exactly as for Consul Connect
# with Envoy: `consul services register web.hcl`, then on the same machine
#   meshlb sidecar --xds CONTROL:18000 -sidecar-for web --admin 127.0.0.1:19001
# where you ran `consul connect envoy -sidecar-for web`.
#
# Consul registers the proxy as "web-sidecar-proxy" (kind connect-proxy) on a
# port from 21000-21255, with a TCP check on that port and an alias check of
# web; that id is the sidecar's xDS node id. Other services' sidecars reach
# web through this sidecar's public listener.
service {
  name = "web"
  port = 8080
  tags = ["v1"]
  meta = {
    version = "v1"
  }

  check {
    id       = "web-http"
    http     = "http://127.0.0.1:8080/healthz"
    interval = "5s"
  }

  connect {
    sidecar_service {
      proxy {
        # Keys meshlb reads from Proxy.Config (the same as Consul's Envoy):
        config {
          protocol                 = "http" # else service-defaults, else tcp
          local_connect_timeout_ms = 1000   # to the app on 127.0.0.1:8080
          # bind_port    = 21000            # public listener port override
          # bind_address = "0.0.0.0"
        }

        # web calls api through its sidecar at 127.0.0.1:9191.
        upstreams {
          destination_name = "api"
          local_bind_port  = 9191
        }
        # Another datacenter: the control server watches api there and names
        # it "api.dc2" in its catalog.
        # upstreams {
        #   destination_name = "api"
        #   datacenter       = "dc2"
        #   local_bind_port  = 9192
        # }
      }
    }
  }
}
