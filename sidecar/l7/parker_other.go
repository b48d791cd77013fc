//go:build !linux

package l7

import (
	"errors"
	"time"
)

// Parker is only implemented on Linux; elsewhere connections stay on
// their goroutines.
type Parker struct{ After time.Duration }

// NewParker returns an error: parking needs epoll.
func NewParker() (*Parker, error) { return nil, errors.New("connection parking needs Linux") }

func (p *Parker) park(*session) bool { return false }

func (p *Parker) unpark(*session) {}

// Close does nothing.
func (p *Parker) Close() {}
