#!/usr/bin/env bash
# Regenerates the Go code of the plugin protocol. Needs protoc (Debian: protobuf-compiler)
# and the Go plugins, installed from the module proxy into a temporary GOBIN.
set -euo pipefail
cd "$(dirname "$0")"
gobin=$(mktemp -d)
trap 'rm -rf "$gobin"' EXIT
GOBIN=$gobin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$gobin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
PATH=$gobin:$PATH protoc --proto_path=. \
  --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
  sglab.proto
