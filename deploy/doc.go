// Package deploy holds the tests of dnsward's deployment files: the
// Kubernetes manifests under kubernetes/ render with kustomize and decode
// strictly into the Kubernetes API types. It is a module of its own so that
// the gateway's module carries no Kubernetes dependency.
package deploy
