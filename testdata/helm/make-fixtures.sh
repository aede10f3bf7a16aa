#!/bin/sh
# Rebuilds the Helm fixtures (charts, indexes, provenance, keyring) in pure Go.
# Run from anywhere; needs only the Go toolchain.
set -eu
cd "$(dirname "$0")/../.."
go run ./testdata/helm/gen -out testdata/helm
