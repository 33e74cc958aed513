package dm

import (
	"context"
	"errors"
)

// Masters is the directory of the dm-masters of a multi-master deployment (issue 16).
// The leader's Cluster answers GET and DELETE /api/v1/cluster/masters through it; the
// etcd-facing implementation is EtcdMasters.
type Masters interface {
	// List returns every known master with whether it is alive and which one leads.
	List(ctx context.Context) ([]ClusterMaster, error)
	// Offline removes a master that is no longer running from the deployment. An unknown
	// name is a *Error with CodeMasterNotFound.
	Offline(ctx context.Context, name string) error
}

// asMastersError keeps a directory's *Error and wraps anything else (an etcd failure)
// as a 400 naming what was attempted, as DM answers etcd errors of these routes.
func asMastersError(what string, err error) error {
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	return NewError(CodeOpenAPICommon, "%s: %v; check that a majority of the dm-masters' etcd members is running, then retry", what, err)
}
