package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/dmkit/dmkit/dm"
	"github.com/dmkit/dmkit/internal/etcdtest"
	"github.com/dmkit/dmkit/internal/tlsconfig"
	"github.com/dmkit/dmkit/internal/tlsconfig/tlstest"
)

// The multi-master tests (issue 16) run three dm-server --role master processes and
// kill -9 the leader.

// masterSet is three --role master processes.
type masterSet struct {
	key      string   // the secret key file every master shares
	clients  []string // the masters' etcd client URLs (embedded), or the external etcd
	prefix   string   // the etcd prefix the masters use
	names    []string
	args     [][]string
	procs    []*child // nil once killed
	embedded bool
}

// freePortList returns n loopback ports that were free a moment ago.
func freePortList(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startMasters starts three masters: with embedded etcd members when endpoint is "",
// else all on that external etcd.
func startMasters(t *testing.T, endpoint string) *masterSet {
	t.Helper()
	key := writeSecretKey(t)
	ms := &masterSet{key: key, names: []string{"m1", "m2", "m3"}, embedded: endpoint == "", prefix: "/dmkit"}
	ports := freePortList(t, 6) // peer, client per master
	var ic []string
	for i, n := range ms.names {
		ic = append(ic, fmt.Sprintf("%s=http://127.0.0.1:%d", n, ports[2*i]))
	}
	prefix := etcdtest.Prefix(t)
	for i, n := range ms.names {
		args := []string{"--role", "master", "--name", n, "--data-dir", t.TempDir(), "--secret-key-path", key, "--log-level", "info"}
		if ms.embedded {
			ms.clients = append(ms.clients, fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]))
			args = append(args, "--etcd-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
				"--etcd-client-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]), "--initial-cluster", strings.Join(ic, ","))
		} else {
			ms.clients, ms.prefix = []string{endpoint}, prefix
			args = append(args, "--etcd-endpoints", endpoint, "--etcd-prefix", prefix)
		}
		ms.args = append(ms.args, args)
		ms.procs = append(ms.procs, startChild(t, args...))
	}
	return ms
}

// ready returns the leader master i's /readyz names ("" when none is known).
func (ms *masterSet) ready(i int) string {
	resp, err := http.Get(strings.TrimSuffix(ms.procs[i].base, "/api/v1") + "/readyz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var r struct{ Leader string }
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return ""
	}
	return r.Leader
}

// waitLeader waits until every running master names the same leader, other than not.
func (ms *masterSet) waitLeader(t *testing.T, not string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var seen []string
		for i, p := range ms.procs {
			if p != nil {
				seen = append(seen, ms.ready(i))
			}
		}
		if l := seen[0]; l != "" && l != not && !slices.ContainsFunc(seen, func(s string) bool { return s != l }) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("the masters do not agree on a leader other than %q: %q", not, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (ms *masterSet) index(name string) int { return slices.Index(ms.names, name) }

// masters lists the masters through master i.
func (ms *masterSet) masters(t *testing.T, i int) map[string]dm.ClusterMaster {
	t.Helper()
	var l dm.List[dm.ClusterMaster]
	ms.procs[i].expect(t, "GET", "/cluster/masters", "", 200, &l)
	out := map[string]dm.ClusterMaster{}
	for _, m := range l.Data {
		out[m.Name] = m
	}
	return out
}

// checkMasters checks the masters list through every running master: who leads and who
// is alive.
func (ms *masterSet) checkMasters(t *testing.T, leader string, alive map[string]bool) {
	t.Helper()
	for i, p := range ms.procs {
		if p == nil {
			continue
		}
		got := ms.masters(t, i)
		if len(got) != len(alive) {
			t.Fatalf("masters through %s: %+v, want %v", ms.names[i], got, alive)
		}
		for name, a := range alive {
			m, ok := got[name]
			if !ok || m.Alive != a || m.Leader != (name == leader) || m.Addr == "" {
				t.Fatalf("masters through %s: %s is %+v, want alive %v, leader %v", ms.names[i], name, m, a, name == leader)
			}
		}
	}
}

func haSource(name string) string {
	return fmt.Sprintf(`{"source_name": %q, "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}`, name, e2eSrc.Port, e2eSrc.User, e2eSrc.Password)
}

// sourceNames lists the sources through master i.
func (ms *masterSet) sourceNames(t *testing.T, i int) []string {
	t.Helper()
	var l dm.List[dm.Source]
	ms.procs[i].expect(t, "GET", "/sources", "", 200, &l)
	var names []string
	for _, s := range l.Data {
		names = append(names, s.SourceName)
	}
	slices.Sort(names)
	return names
}

// failover is the check both tests share: writes through every master; kill -9 the
// leader; a new leader (the time is logged); writes through every remaining master and
// reads agree; the killed master restarted rejoins as a follower.
func failover(t *testing.T, ms *masterSet) (leader string) {
	first := ms.waitLeader(t, "")
	t.Logf("first leader: %s", first)
	all := map[string]bool{"m1": true, "m2": true, "m3": true}
	ms.checkMasters(t, first, all)
	var want []string
	for i, n := range ms.names { // through followers too: forwarded to the leader
		src := "before-" + n
		ms.procs[i].expect(t, "POST", "/sources", haSource(src), 201, nil)
		want = append(want, src)
	}

	k := ms.index(first)
	ms.procs[k].kill9(t)
	killed := time.Now()
	ms.procs[k] = nil
	// A write sent at once waits (up to 5 s) for the next leader instead of failing on
	// the dead one; if the election takes longer it gets 503 38043 and is retried.
	during := ms.procs[(k+1)%3]
	code, b := during.call(t, "POST", "/sources", haSource("during-failover"))
	t.Logf("a write right after the kill -9: %d after %s", code, time.Since(killed).Round(10*time.Millisecond))
	if code != 201 && (code != 503 || !strings.Contains(string(b), fmt.Sprint(dm.CodeMasterNoLeader))) {
		t.Fatalf("a write during the failover = %d %s, want 201 or 503 with %d", code, b, dm.CodeMasterNoLeader)
	}
	leader = ms.waitLeader(t, first)
	t.Logf("kill -9 of leader %s: new leader %s after %s (every remaining master agrees)", first, leader, time.Since(killed).Round(10*time.Millisecond))
	if code != 201 {
		during.expect(t, "POST", "/sources", haSource("during-failover"), 201, nil)
	}
	want = append(want, "during-failover")
	for i, n := range ms.names {
		if ms.procs[i] == nil {
			continue
		}
		src := "after-" + n
		ms.procs[i].expect(t, "POST", "/sources", haSource(src), 201, nil)
		want = append(want, src)
	}
	slices.Sort(want)
	for i, p := range ms.procs {
		if p == nil {
			continue
		}
		if got := ms.sourceNames(t, i); !slices.Equal(got, want) {
			t.Fatalf("sources through %s = %q, want %q", ms.names[i], got, want)
		}
	}
	all[first] = false
	ms.checkMasters(t, leader, all)

	ms.procs[k] = startChild(t, ms.args[k]...)
	if l := ms.waitLeader(t, ""); l != leader {
		t.Fatalf("after %s rejoined the leader is %s, want %s still", first, l, leader)
	}
	all[first] = true
	ms.checkMasters(t, leader, all)
	if got := ms.sourceNames(t, k); !slices.Equal(got, want) {
		t.Fatalf("sources through the rejoined %s = %q, want %q", first, got, want)
	}
	return leader
}

// TestMastersFailover: three masters with embedded etcd members (issue 16 (a)); then a
// stopped follower is offlined (its etcd member removed) and the two others go on.
func TestMastersFailover(t *testing.T) {
	ms := startMasters(t, "")
	leader := failover(t, ms)

	l := ms.index(leader)
	f := (l + 1) % 3
	other := 3 - l - f
	ms.procs[l].expectError(t, "DELETE", "/cluster/masters/"+ms.names[f], "", 400, dm.CodeOpenAPICommon) // running
	ms.procs[f].kill9(t)
	ms.procs[f] = nil
	deadline := time.Now().Add(30 * time.Second)
	for ms.masters(t, other)[ms.names[f]].Alive {
		if time.Now().After(deadline) {
			t.Fatalf("%s still alive 30s after kill -9", ms.names[f])
		}
		time.Sleep(100 * time.Millisecond)
	}
	ms.procs[other].expect(t, "DELETE", "/cluster/masters/"+ms.names[f], "", 204, nil)
	ms.procs[other].expectError(t, "DELETE", "/cluster/masters/"+ms.names[f], "", 400, dm.CodeMasterNotFound)
	ms.procs[other].expectError(t, "DELETE", "/cluster/masters/"+leader, "", 400, dm.CodeOpenAPICommon)
	ms.checkMasters(t, leader, map[string]bool{leader: true, ms.names[other]: true})
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ms.args[l][slices.Index(ms.args[l], "--etcd-client-urls")+1]}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ml, err := cli.MemberList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != 2 {
		t.Fatalf("etcd members after the offline: %d, want 2", len(ml.Members))
	}
	ms.procs[other].expect(t, "POST", "/sources", haSource("after-offline"), 201, nil)
	ms.procs[l].expect(t, "GET", "/sources/after-offline", "", 200, nil)
}

// TestMastersFailoverExternalEtcd: the same with Debian's etcd-server as the masters'
// external etcd (--etcd-endpoints).
//
// Then the leader is paused (SIGSTOP) past its lease: another master leads; resumed
// (SIGCONT), the old leader finds its session gone, closes its Cluster and follows. And
// a leader stopped with SIGTERM resigns, so the next one leads at once.
func TestMastersFailoverExternalEtcd(t *testing.T) {
	ep := startSystemEtcd(t)
	ms := startMasters(t, ep)
	leader := failover(t, ms)

	l := ms.index(leader)
	sendSignal(t, ms.procs[l], syscall.SIGSTOP)
	paused := time.Now()
	stopped := ms.procs[l]
	ms.procs[l] = nil // waitLeader asks the others only
	next := ms.waitLeader(t, leader)
	t.Logf("SIGSTOP of leader %s: new leader %s after %s", leader, next, time.Since(paused).Round(10*time.Millisecond))
	ms.procs[ms.index(next)].expect(t, "POST", "/sources", haSource("while-paused"), 201, nil)
	sendSignal(t, stopped, syscall.SIGCONT)
	ms.procs[l] = stopped
	if got := ms.waitLeader(t, ""); got != next {
		t.Fatalf("after SIGCONT the leader is %s, want %s", got, next)
	}
	ms.procs[l].expect(t, "POST", "/sources", haSource("after-resume"), 201, nil)
	ms.checkMasters(t, next, map[string]bool{"m1": true, "m2": true, "m3": true})
	for i := range ms.procs {
		if names := ms.sourceNames(t, i); !slices.Contains(names, "while-paused") || !slices.Contains(names, "after-resume") {
			t.Fatalf("sources through %s: %q", ms.names[i], names)
		}
	}

	n := ms.index(next)
	sendSignal(t, ms.procs[n], syscall.SIGTERM)
	termed := time.Now()
	<-ms.procs[n].done
	ms.procs[n] = nil
	after := ms.waitLeader(t, next)
	t.Logf("SIGTERM of leader %s: new leader %s after %s", next, after, time.Since(termed).Round(10*time.Millisecond))
	// It revoked its lease on the way out: listed as stopped at once, not after the TTL.
	alive := map[string]bool{"m1": true, "m2": true, "m3": true}
	alive[next] = false
	ms.checkMasters(t, after, alive)
}

func sendSignal(t *testing.T, c *child, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// startSystemEtcd runs /usr/bin/etcd (Debian's etcd-server, 3.4) on free ports.
func startSystemEtcd(t *testing.T) string {
	t.Helper()
	const bin = "/usr/bin/etcd"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v; install Debian's etcd-server (scripts/install-deps.sh does)", bin, err)
	}
	ports := freePortList(t, 2)
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cmd := exec.Command(bin, "--name", "ext", "--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "ext="+peer)
	var out lockedWriter
	var buf strings.Builder
	out.w = &buf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "health")
		cancel()
		if err == nil {
			return client
		}
		if time.Now().After(deadline) {
			out.mu.Lock()
			defer out.mu.Unlock()
			t.Fatalf("etcd at %s not ready: %v\n%s", client, err, buf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMastersTLS: with --ssl-*, a follower forwards over https to the leader and presents
// its own certificate, which the leader's --cert-allowed-cn admits.
func TestMastersTLS(t *testing.T) {
	pki := tlstest.PKI(t, t.TempDir(), "good-client")
	peer, client := pki["peer"], pki["good-client"]
	key, ep, prefix := writeSecretKey(t), etcds.Get(t).Endpoint, etcdtest.Prefix(t)
	var procs []*child
	for _, n := range []string{"t1", "t2"} {
		procs = append(procs, startChild(t, "--role", "master", "--name", n, "--data-dir", t.TempDir(), "--secret-key-path", key,
			"--etcd-endpoints", ep, "--etcd-prefix", prefix, "--ssl-ca", peer.CA, "--ssl-cert", peer.Cert, "--ssl-key", peer.Key,
			"--cert-allowed-cn", "dm-peer,good-client"))
	}
	cfg, err := tlsconfig.Client(client)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	call := func(c *child, method, path, body string) (int, string) { // path from the root
		t.Helper()
		req, err := http.NewRequest(method, strings.TrimSuffix(c.base, "/api/v1")+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	leader := ""
	deadline := time.Now().Add(60 * time.Second)
	for leader == "" {
		var r struct{ Leader string }
		if code, body := call(procs[0], "GET", "/readyz", ""); code == 200 && json.Unmarshal([]byte(body), &r) == nil {
			leader = r.Leader
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader over TLS within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	follower := procs[1]
	if leader == "t2" {
		follower = procs[0]
	}
	if code, body := call(follower, "POST", "/api/v1/sources", haSource("tls-src")); code != 201 {
		t.Fatalf("create through the follower over TLS = %d %s", code, body)
	}
	if code, body := call(follower, "GET", "/api/v1/cluster/masters", ""); code != 200 || !strings.Contains(body, `"addr": "https://`) {
		t.Fatalf("masters through the follower = %d %s", code, body)
	}
}
