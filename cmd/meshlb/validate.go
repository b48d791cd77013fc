package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/meshlb/meshlb/discovery/file"
	"github.com/meshlb/meshlb/sidecar/config"
)

// runValidate checks each named file: a services.yaml (it has a top-level
// "services" key) or an Envoy bootstrap. Errors carry file:line.
func runValidate(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: meshlb validate FILE [FILE ...]")
	}
	var errs []error
	for _, path := range fs.Args() {
		kind, err := validateFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%s)\n", path, kind)
	}
	return errors.Join(errs...)
}

func validateFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	name := filepath.Base(path)
	if isServicesFile(data) {
		cat, err := file.Parse(name, data)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("services.yaml, %d services, version %s", len(cat.Services()), cat.Version()), nil
	}
	b, err := config.ParseBootstrap(name, data)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Envoy bootstrap, %d static listeners, %d static clusters", len(b.Static.Listeners), len(b.Static.Clusters)), nil
}

// isServicesFile reports whether data has a top-level "services:" key.
func isServicesFile(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("services:")) {
			return true
		}
	}
	return false
}
