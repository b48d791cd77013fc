package main

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// result is one client request: when it started, how long it took, and
// which backend answered ("" when it failed).
type result struct {
	at      time.Time
	latency time.Duration
	backend string
	ok      bool
}

// load sends GETs to url at rate per second from workers goroutines
// until stop is closed, and returns every result.
func load(url string, rate, workers int, stop <-chan struct{}) []result {
	jobs := make(chan time.Time)
	go func() {
		defer close(jobs)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case t := <-tick.C:
				select {
				case jobs <- t:
				case <-stop:
					return
				}
			}
		}
	}()
	var (
		mu  sync.Mutex
		out []result
		wg  sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			for range jobs {
				r := get(c, url)
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// get sends one GET and reports it.
func get(c *http.Client, url string) result {
	r := result{at: time.Now()}
	resp, err := c.Get(url)
	if err == nil {
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && resp.StatusCode == 200 {
			r.ok, r.backend = true, string(body)
		}
	}
	r.latency = time.Since(r.at)
	return r
}
