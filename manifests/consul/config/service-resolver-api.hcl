# subsets by filter, a default subset, failover and timeouts
Kind           = "service-resolver"
Name           = "api"
DefaultSubset  = "v1"
ConnectTimeout = "2s"
RequestTimeout = "10s"
Subsets = {
  v1 = { Filter = "Service.Meta.version == v1" }
  v2 = { Filter = "Service.Meta.version == v2", OnlyPassing = true }
}
Failover = {
  "*" = { Service = "api-backup" } # or Datacenters = ["dc2"], or Targets
}
