// Package httpapi serves DM's OpenAPI (/api/v1/...) for a dm.Cluster.
//
// The embedded OpenAPI document (openapi.yaml) is the single source of truth: every
// operation in it is routed, and every request is validated against it before its handler
// decodes it, calls one Cluster method and encodes the answer. Every error answers with
// {"error_msg": "...", "error_code": <int>}; the mapping from errors lives in writeError.
package httpapi
