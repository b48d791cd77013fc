// Command faulttable measures how meshlb and HAProxy 2.6 ride out backend
// faults, on this machine with the same backends and load: a paced load
// of GETs through each proxy to 3 backend processes while one scenario
// plays out (kill -9 of one backend and its restart; a hang, SIGSTOP, and
// SIGCONT; a quick restart; all primary backends killed with a backup
// and restarted). It prints a Markdown table: failed client requests,
// time to detect (the proxy takes the backend out), time to recover (the
// backend serves again once back) and the slowest request.
//
//	go run ./tools/faulttable [-meshlb bin] [-rate 200] [-hold 6s] [-runs 1]
//
// Without -meshlb it builds ./cmd/meshlb (run it from the repository
// root). Every wait is bounded; the whole run by -timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

type options struct {
	bin        string
	rate       int
	warm, hold time.Duration
	runs       int
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "backend" {
		if err := serveBackend(os.Args[2], os.Args[3]); err != nil {
			log.Fatal(err)
		}
		return
	}
	var o options
	flag.StringVar(&o.bin, "meshlb", "", "meshlb binary (default: go build ./cmd/meshlb)")
	flag.IntVar(&o.rate, "rate", 200, "client requests per second")
	flag.DurationVar(&o.warm, "warm", 3*time.Second, "load before the fault")
	flag.DurationVar(&o.hold, "hold", 6*time.Second, "time after the fault and after the recovery")
	flag.IntVar(&o.runs, "runs", 1, "runs of each scenario per proxy")
	timeout := flag.Duration("timeout", 10*time.Minute, "bound on the whole run")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := measure(ctx, o); err != nil {
		log.Fatal(err)
	}
}

// measure runs every scenario against every proxy and prints the table.
func measure(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "faulttable")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.bin == "" {
		o.bin = filepath.Join(dir, "meshlb")
		if out, err := exec.Command("go", "build", "-o", o.bin, "./cmd/meshlb").CombinedOutput(); err != nil {
			return fmt.Errorf("building meshlb: %v\n%s", err, out)
		}
	}
	proxies := []struct {
		name  string
		start func(dir string, p pool) (proxy, error)
	}{
		{"meshlb", func(d string, p pool) (proxy, error) { return startMeshlb(o.bin, d, p) }},
		{"HAProxy 2.6", startHAProxy},
	}
	fmt.Printf("%d req/s, fault after %v, recovery %v later, %v more; %s\n\n", o.rate, o.warm, o.hold, o.hold, time.Now().UTC().Format(time.RFC3339))
	fmt.Println("| scenario | proxy | failed / requests | time to detect | time to recover | slowest request |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, sc := range scenarios {
		for _, px := range proxies {
			for range o.runs {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("stopped: %w", err)
				}
				d, err := os.MkdirTemp(dir, "run")
				if err != nil {
					return err
				}
				row, err := play(sc, func(p pool) (proxy, error) { return px.start(d, p) }, o)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", sc.name, px.name, err)
				}
				fmt.Printf("| %s | %s | %s |\n", sc.name, px.name, row)
			}
		}
	}
	return nil
}
