# weighted splits (percent): "api.v1" gets 90% of requests
Kind = "service-splitter"
Name = "api"
Splits = [
  { Weight = 90, ServiceSubset = "v1" },
  { Weight = 10, ServiceSubset = "v2" },
]
