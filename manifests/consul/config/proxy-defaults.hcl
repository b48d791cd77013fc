# proxy-defaults: the protocol of services without service-defaults.
Kind = "proxy-defaults"
Name = "global"
Config {
  protocol = "http"
}
