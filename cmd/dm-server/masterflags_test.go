package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsRoles(t *testing.T) {
	key := []string{"--secret-key-path", "k"}
	master := func(extra ...string) []string {
		return append(append([]string{"--role", "master", "--name", "m1"}, key...), extra...)
	}
	cfg, err := parseFlags(master(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.master
	if cfg.role != roleMaster || m.initialCluster != "m1="+defaultPeerURL || m.advertisePeerURLs.String() != defaultPeerURL ||
		m.etcdDataDir != filepath.Join("dm-data", "etcd") || m.electionTTL != 3*time.Second || m.localClientURL() != defaultClientURL {
		t.Errorf("master defaults: %+v", m)
	}
	cfg, err = parseFlags(master("--etcd-client-urls", "http://0.0.0.0:2379", "--etcd-peer-urls", "http://0.0.0.0:8291",
		"--etcd-advertise-peer-urls", "http://10.0.0.1:8291", "--initial-cluster", "m1=http://10.0.0.1:8291,m2=http://10.0.0.2:8291"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.master.localClientURL(); got != "http://127.0.0.1:2379" {
		t.Errorf("own client URL on 0.0.0.0 = %s", got)
	}
	if cfg, err := parseFlags(master("--etcd-endpoints", "http://e:2379", "--election-ttl", "5s"), io.Discard); err != nil || cfg.master.electionTTL != 5*time.Second {
		t.Errorf("master on an external etcd: %v", err)
	}
	if cfg, err := parseFlags([]string{"--role", "worker", "--etcd-endpoints", "http://e:2379", "--secret-key-path", "k", "--advertise-addr", "w1:8262", "--keepalive-ttl", "4s"}, io.Discard); err != nil ||
		cfg.role != roleWorker || cfg.master.advertiseAddr != "w1:8262" || cfg.worker.keepAliveTTL != 4*time.Second {
		t.Errorf("worker flags: %+v %v", cfg, err)
	}
	if cfg, err := parseFlags(nil, io.Discard); err != nil || cfg.role != roleAll {
		t.Errorf("default role: %v %v", cfg.role, err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "worker"}, "--role worker needs --etcd-endpoints"},
		{[]string{"--role", "worker", "--etcd-endpoints", "http://e:2379"}, "needs --secret-key-path"},
		{[]string{"--role", "worker", "--etcd-endpoints", "http://e:2379", "--secret-key-path", "k", "--keepalive-ttl", "1s"}, "2s or more"},
		{[]string{"--role", "worker", "--etcd-endpoints", "http://e:2379", "--secret-key-path", "k", "--workers", "2"}, "act in another role only"},
		{[]string{"--role", "worker", "--etcd-endpoints", "http://e:2379", "--secret-key-path", "k", "--advertise-addr", "nohost"}, "--advertise-addr"},
		{[]string{"--role", "worker", "--etcd-endpoints", "http://e:2379", "--secret-key-path", "k", "--election-ttl", "5s"}, "only act with --role master"},
		{[]string{"--keepalive-ttl", "3s"}, "acts only with --role worker"},
		{master("--keepalive-ttl", "3s"), "acts only with --role worker"},
		{[]string{"--role", "boss"}, "use all, master or worker"},
		{[]string{"--etcd-peer-urls", "http://a:1"}, "only act with --role master"},
		{[]string{"--election-ttl", "5s"}, "only act with --role master"},
		{[]string{"--advertise-addr", "a:1"}, "acts only with --role master or worker"},
		{[]string{"--role", "master", "--name", "m1"}, "needs --secret-key-path"},
		{master("--workers", "2"), "runs no worker"},
		{master("--etcd-lock-wait", "1s"), "--etcd-lock-wait acts only with --role all"},
		{master("--election-ttl", "1500ms"), "whole seconds"},
		{master("--election-ttl", "0s"), "whole seconds"},
		{master("--advertise-addr", "nohost"), "--advertise-addr"},
		{master("--etcd-endpoints", "http://e:2379", "--initial-cluster", "m1=http://a:1"), "which --etcd-endpoints replaces"},
		{master("--etcd-ssl-ca", "ca.pem"), "embedded etcd member serves plain HTTP"},
		{master("--etcd-peer-urls", "ftp://a:1"), "--etcd-peer-urls"},
		{master("--etcd-client-urls", "https://a:1"), "plain HTTP"},
		{master("--initial-cluster", "m2=http://a:1"), "does not name this master"},
		{master("--initial-cluster", "m1=http://a:1"), "make them the same"},
		{master("--initial-cluster", "garbage"), "--initial-cluster"},
	} {
		_, err := parseFlags(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseFlags(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
