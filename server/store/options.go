package store

import (
	"errors"
	"log/slog"
)

type config struct {
	logger *slog.Logger
	noSync bool
}

// Option configures Open.
type Option func(*config) error

// WithLogger sets the logger for recovery and maintenance messages. The
// default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("store: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithNoSync skips every fsync. Data then survives a crashed process but
// not a crashed machine; meant for unit tests only.
func WithNoSync() Option {
	return func(c *config) error {
		c.noSync = true
		return nil
	}
}
