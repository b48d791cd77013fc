//go:build !linux

package file

import (
	"errors"
	"log/slog"
)

// notifier is unavailable outside Linux; the watch polls.
type notifier struct{}

func newNotifier() (*notifier, error) { return nil, errors.New("inotify is only available on Linux") }

func (*notifier) events() <-chan struct{}      { return nil }
func (*notifier) watch([]string, *slog.Logger) {}
func (*notifier) complete() bool               { return false }
func (*notifier) close()                       {}
