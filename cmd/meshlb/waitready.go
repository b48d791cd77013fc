package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// logLevel is the level of the loggers newLogger makes; the admin API's
// /logging?level= changes it at run time.
var logLevel = new(slog.LevelVar)

// runWaitReady blocks until the sidecar's admin /ready answers 200, so an
// application's entrypoint can start once the sidecar has its
// configuration (instead of looping on curl, consul-k8s#1397).
func runWaitReady(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("wait-ready", flag.ContinueOnError)
	admin := fs.String("admin", "127.0.0.1:19000", "the sidecar's admin address")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := pollReady(ctx, "http://"+*admin+"/ready"); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}

// pollReady polls url every 100 ms until it answers 200 or ctx is done.
func pollReady(ctx context.Context, url string) error {
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	last := errors.New("no answer yet")
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the sidecar to be ready: %w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
