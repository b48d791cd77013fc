# L7 routes, tried in order before the splitter
Kind = "service-router"
Name = "api"
Routes = [
  {
    Match { HTTP { PathPrefix = "/admin" } }
    Destination { Service = "api-admin", PrefixRewrite = "/" }
  },
  {
    Match { HTTP {
      Methods = ["GET", "HEAD"]
      Header  = [{ Name = "x-canary", Exact = "1" }]
    } }
    Destination {
      ServiceSubset         = "v2"
      RequestTimeout        = "3s"
      NumRetries            = 2
      RetryOnConnectFailure = true
      RetryOn               = ["5xx"]
    }
  },
]
