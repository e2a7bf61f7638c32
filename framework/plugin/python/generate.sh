#!/usr/bin/env bash
# Regenerates the Python stubs of the plugin protocol (../proto/sglab.proto) and of the
# go-plugin and health services the SDK serves (proto/*.proto) into sglab_plugin/proto.
# Needs protoc and grpc_python_plugin (Debian: protobuf-compiler, protobuf-compiler-grpc),
# the same protoc release as the python3-protobuf runtime (3.21 / 4.21).
set -euo pipefail
cd "$(dirname "$0")"
out=sglab_plugin/proto
grpc_plugin=$(command -v grpc_python_plugin)
rm -f "$out"/*_pb2.py "$out"/*_pb2_grpc.py
protoc --proto_path=../proto --python_out="$out" --grpc_out="$out" \
  --plugin=protoc-gen-grpc="$grpc_plugin" sglab.proto
protoc --proto_path=proto --python_out="$out" --grpc_out="$out" \
  --plugin=protoc-gen-grpc="$grpc_plugin" goplugin.proto health.proto
# protoc writes `import sglab_pb2 as ...`, which only works with the output folder on
# sys.path; inside the package the import must be relative.
sed -i -E 's/^import ([A-Za-z0-9_]+_pb2) as /from . import \1 as /' "$out"/*_pb2_grpc.py
