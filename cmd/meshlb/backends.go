package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// backends runs the demo's backend servers and stops them together.
type backends struct {
	wg      sync.WaitGroup
	servers []*http.Server
	lns     []net.Listener
}

// http starts an HTTP server on addr that names itself in every answer.
func (b *backends) http(service, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo backend %s: %w", service, err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Instance", addr)
		fmt.Fprintf(w, "%s instance %s: %s %s (x-forwarded-for: %s)\n", service, addr, r.Method, r.URL.RequestURI(), r.Header.Get("X-Forwarded-For"))
	})}
	b.servers = append(b.servers, srv)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		srv.Serve(ln)
	}()
	return nil
}

// echo starts a TCP server on addr that greets with its name, then echoes.
func (b *backends) echo(service, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo backend %s: %w", service, err)
	}
	b.lns = append(b.lns, ln)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				fmt.Fprintf(c, "%s instance %s\n", service, addr)
				io.Copy(c, c)
			}()
		}
	}()
	return nil
}

// close stops every backend. Echo connections end when their clients close.
func (b *backends) close() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, s := range b.servers {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, s.Close())
		}
	}
	for _, ln := range b.lns {
		ln.Close()
	}
	b.wg.Wait()
	return errors.Join(errs...)
}
