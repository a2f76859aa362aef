#!/bin/sh
# Builds dnsward's container image offline (make image): a static binary,
# the build machine's CA bundle and zoneinfo, staged into a context for
# deploy/container/Containerfile. IMAGE names it; VERSION is baked in.
set -eu
cd "$(dirname "$0")/../.."
: "${IMAGE:=localhost/dnsward:latest}" "${VERSION:=dev}" "${GO:=go}"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$ctx/dnsward" ./cmd/dnsward
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
cp -R /usr/share/zoneinfo "$ctx/zoneinfo"
mkdir "$ctx/data"
podman build --quiet -f deploy/container/Containerfile -t "$IMAGE" \
  --label org.opencontainers.image.version="$VERSION" "$ctx"
