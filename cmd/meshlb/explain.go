package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// explainUsage is the synopsis of meshlb explain.
const explainUsage = `usage: meshlb explain [flags] 'METHOD http://host/path' | tcp://host:port

Asks a running sidecar's admin API (GET /explain) which listener, filter
chain, route, HTTP filters, cluster and endpoint a request or connection
would take, and why. Flags may come before or after the request.`

// runExplain is meshlb explain: it sends the query to the sidecar's admin
// /explain and prints the answer (text, or JSON with --json).
func runExplain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), explainUsage); fs.PrintDefaults() }
	adminAddr := fs.String("admin", "127.0.0.1:19000", "the sidecar's admin address")
	v := url.Values{}
	fs.Func("H", "request header `name: value` (repeatable)", func(h string) error { v.Add("header", h); return nil })
	param := func(name, usage string) { fs.Func(name, usage, func(s string) error { v.Set(name, s); return nil }) }
	param("from", "client address ip:port (default 127.0.0.1:0)")
	param("to", "destination address ip:port (default: the URL's IP, else the listener's address)")
	param("listener", "the listener's name (default: found from --to or the URL)")
	param("sni", "TLS server name the client sends (default: the URL's host for https:// and tls://)")
	param("alpn", "ALPN protocols the client offers, comma separated")
	param("principal", "URI SAN (SPIFFE ID) of the client's certificate, for RBAC")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	target, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	v.Set("request", target)
	if *asJSON {
		v.Set("format", "json")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	body, err := getExplain(ctx, "http://"+*adminAddr+"/explain?"+v.Encode())
	if err != nil {
		return err
	}
	_, err = stdout.Write(body)
	return err
}

// parseInterspersed parses fs's flags wherever they are among args and
// returns the positional arguments joined by spaces: the request ("GET
// http://..." as one argument or two).
func parseInterspersed(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) == 0 || len(pos) > 2 {
		fs.Usage()
		return "", errors.New("want one request: 'METHOD URL' or a tcp:// URL")
	}
	return strings.Join(pos, " "), nil
}

// getExplain fetches url and returns its body, or an error with the
// sidecar's message when it does not answer 200.
func getExplain(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, fmt.Errorf("asking the sidecar: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking the sidecar: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the sidecar's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the sidecar answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
