Kind     = "service-defaults"
Name     = "api"
Protocol = "http" # http, http2 and grpc are proxied at L7; tcp at L4
