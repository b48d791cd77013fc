package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"

	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/discovery/consul"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/xds/client"
	"github.com/meshlb/meshlb/xds/server"
)

// xdsClientFlags are the sidecar's flags for authenticating to the
// control server: a token sent with every stream, and TLS.
type xdsClientFlags struct {
	token string
	ca    string
}

func (f *xdsClientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.token, "xds-token", os.Getenv("MESHLB_XDS_TOKEN"),
		"token sent to the control server in "+server.TokenHeader+" (default $MESHLB_XDS_TOKEN)")
	fs.StringVar(&f.ca, "xds-ca", "", "PEM CA file: connect to the control server over TLS and verify it with this CA")
}

// apply sets the TLS (unless the bootstrap set one) and the token of the
// xDS client's options.
func (f *xdsClientFlags) apply(o *client.Options) error {
	if f.ca != "" && o.TLS == nil {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return fmt.Errorf("reading --xds-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--xds-ca %s: no PEM certificate", f.ca)
		}
		o.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if f.token != "" {
		o.Metadata = append(slices.Clone(o.Metadata), spec.Header{Key: server.TokenHeader, Value: f.token})
	}
	return nil
}

// xdsServerFlags are the control server's flags for authenticating
// sidecars and serving TLS.
type xdsServerFlags struct {
	tokens    string
	consulACL bool
	cert, key string
}

func (f *xdsServerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.tokens, "xds-tokens", "", `file of "node-id token" lines: serve a node only to a sidecar with its token`)
	fs.BoolVar(&f.consulACL, "xds-consul-acl", false,
		"with --consul: serve a node only to a sidecar whose "+server.TokenHeader+" token has service:write on its service")
	fs.StringVar(&f.cert, "xds-cert", "", "PEM certificate file: serve xDS over TLS (with --xds-key)")
	fs.StringVar(&f.key, "xds-key", "", "PEM private key file of --xds-cert")
}

// authorizer returns the Authorizer the flags ask for, nil for none.
func (f *xdsServerFlags) authorizer(src discovery.Source) (server.Authorizer, error) {
	switch {
	case f.tokens != "" && f.consulACL:
		return nil, errors.New("--xds-tokens and --xds-consul-acl are exclusive")
	case f.tokens != "":
		file, err := os.Open(f.tokens)
		if err != nil {
			return nil, fmt.Errorf("--xds-tokens: %w", err)
		}
		defer file.Close()
		t, err := server.ParseTokens(file)
		if err != nil {
			return nil, fmt.Errorf("--xds-tokens %s: %w", f.tokens, err)
		}
		return t, nil
	case f.consulACL:
		cs, ok := src.(*consul.Source)
		if !ok {
			return nil, errors.New("--xds-consul-acl needs --consul")
		}
		return cs.Authorizer()
	}
	return nil, nil
}

// serverOptions returns the gRPC server options for the flags.
func (f *xdsServerFlags) serverOptions() ([]grpc.ServerOption, error) {
	if f.cert == "" && f.key == "" {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return nil, fmt.Errorf("loading --xds-cert/--xds-key: %w", err)
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}))}, nil
}
