//go:build e2e

/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// monitorEvery is how often the monitor reads the QueueWorker, the pods and
// Redis. The Deployment is watched, so replica changes carry their own time.
const monitorEvery = 500 * time.Millisecond

// sample is the worker Deployment at one moment.
type sample struct {
	at time.Time
	// desired is spec.replicas: what the operator decided.
	desired int32
	// current is status.replicas: pods that exist and are not terminating.
	current int32
	ready   int32
}

// observation is what one poll of the monitor saw.
type observation struct {
	at        time.Time
	reachable metav1.ConditionStatus
	// active and pending are read from Redis; -1 when it did not answer.
	active, pending int64
	// latency is the QueueWorker's status.latency (0 when unset); -1 when
	// the QueueWorker could not be read.
	latency time.Duration
}

// podExit is a worker pod the monitor saw being deleted.
type podExit struct {
	pod string
	// seen is when the monitor first saw the deletion, at most
	// monitorEvery after the pod got SIGTERM.
	seen time.Time
	// running counts tasks that were certainly still running in the pod
	// when it was told to stop (see monitor.taskDuration).
	running int
}

// monitor records how a QueueWorker's Deployment scales, and what the
// QueueWorker, its pods and its Redis look like meanwhile, from its start
// until stop.
type monitor struct {
	s     *suite
	ns    string
	name  string
	queue string
	rdb   *redis.Client
	// taskDuration, when set, is how long every task runs; the monitor
	// then also samples asynq's record of which process runs which task,
	// to count the tasks running in pods that are stopped.
	taskDuration time.Duration

	mu      sync.Mutex
	samples []sample
	obs     []observation
	exits   map[string]*podExit
	procs   map[string]string            // pod name → asynq process key
	servers map[string]*asynq.ServerInfo // asynq process key → latest info

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startMonitor starts recording; stop ends it. Its Redis client gives up
// fast, so a poll during an outage does not stall the others.
func (s *suite) startMonitor(t *testing.T, ns, name, queue string, rdb *redis.Client, taskDuration time.Duration) *monitor {
	base := rdb.Options()
	fast := redis.NewClient(&redis.Options{
		Addr: base.Addr, Dialer: base.Dialer, Username: base.Username, Password: base.Password,
		MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 2,
	})
	m := &monitor{
		s: s, ns: ns, name: name, queue: queue, rdb: fast, taskDuration: taskDuration,
		exits: map[string]*podExit{}, procs: map[string]string{}, servers: map[string]*asynq.ServerInfo{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(2)
	go m.watchDeployment(ctx)
	go m.pollLoop(ctx)
	t.Cleanup(m.stop)
	s.report.attach(t.Name(), m)
	return m
}

// stop ends the recording; it may be called more than once.
func (m *monitor) stop() {
	m.cancel()
	m.wg.Wait()
	_ = m.rdb.Close()
}

// watchDeployment records every change of the Deployment's replica counts.
// A watch without a resource version starts with the current object, so a
// restarted watch misses nothing that matters.
func (m *monitor) watchDeployment(ctx context.Context) {
	defer m.wg.Done()
	for ctx.Err() == nil {
		w, err := m.s.client.Watch(ctx, &appsv1.DeploymentList{}, client.InNamespace(m.ns),
			client.MatchingFields{"metadata.name": m.name})
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(monitorEvery):
			}
			continue
		}
		for ev := range w.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok {
				m.record(d)
			}
		}
		w.Stop()
	}
}

func (m *monitor) record(d *appsv1.Deployment) {
	s := sample{at: time.Now(), current: d.Status.Replicas, ready: d.Status.ReadyReplicas, desired: 1}
	if d.Spec.Replicas != nil {
		s.desired = *d.Spec.Replicas
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.samples); n > 0 {
		last := m.samples[n-1]
		if last.desired == s.desired && last.current == s.current && last.ready == s.ready {
			return
		}
	}
	m.samples = append(m.samples, s)
}

func (m *monitor) pollLoop(ctx context.Context) {
	defer m.wg.Done()
	inspector := asynq.NewInspectorFromRedisClient(m.rdb)
	tick := time.NewTicker(monitorEvery)
	defer tick.Stop()
	for {
		m.pollOnce(ctx, inspector)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// activeKey and pendingKey are asynq's lists of a queue's running and
// waiting tasks. The monitor reads them directly, with two O(1) commands,
// so it neither depends on the operator's own reader nor loads Redis.
func activeKey(queue string) string  { return "asynq:{" + queue + "}:active" }
func pendingKey(queue string) string { return "asynq:{" + queue + "}:pending" }

func (m *monitor) pollOnce(ctx context.Context, inspector *asynq.Inspector) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	o := observation{at: time.Now(), active: -1, pending: -1, latency: -1}
	var qw queueworkerv1alpha1.QueueWorker
	if err := m.s.client.Get(ctx, client.ObjectKey{Namespace: m.ns, Name: m.name}, &qw); err == nil {
		o.latency = 0
		if qw.Status.Latency != nil {
			o.latency = qw.Status.Latency.Duration
		}
		if c := apimeta.FindStatusCondition(qw.Status.Conditions, queueworkerv1alpha1.ConditionRedisReachable); c != nil {
			o.reachable = c.Status
		}
	}
	pipe := m.rdb.Pipeline()
	active := pipe.LLen(ctx, activeKey(m.queue))
	pending := pipe.LLen(ctx, pendingKey(m.queue))
	if _, err := pipe.Exec(ctx); err == nil {
		o.active, o.pending = active.Val(), pending.Val()
	}
	m.mu.Lock()
	m.obs = append(m.obs, o)
	m.mu.Unlock()
	if m.taskDuration > 0 {
		m.trackProcesses(ctx, inspector)
	}
}

// trackProcesses keeps, for every worker pod, the latest record asynq has
// of its process (written by each worker every 5 seconds, with the tasks
// it runs and when each started), and when a pod is being deleted counts
// the tasks that record proves were running when the pod got SIGTERM: a
// task that started at S runs for taskDuration, so it cannot have ended
// before S+taskDuration.
func (m *monitor) trackProcesses(ctx context.Context, inspector *asynq.Inspector) {
	var pods corev1.PodList
	if err := m.s.client.List(ctx, &pods, client.InNamespace(m.ns),
		client.MatchingLabels{"app.kubernetes.io/instance": m.name}); err != nil {
		return
	}
	servers, serversErr := inspector.Servers()
	m.mu.Lock()
	defer m.mu.Unlock()
	if serversErr == nil {
		for _, srv := range servers {
			m.servers[processKey(srv.Host, srv.PID)] = srv
			// In a pod the host name alone names the process.
			m.servers[processKey(srv.Host, 0)] = srv
		}
	}
	now := time.Now()
	for i := range pods.Items {
		pod := &pods.Items[i]
		if _, known := m.procs[pod.Name]; !known {
			if host, pid, ok := m.s.provider.workerProcess(pod); ok {
				m.procs[pod.Name] = processKey(host, pid)
			}
		}
		if pod.DeletionTimestamp == nil || m.exits[pod.Name] != nil {
			continue
		}
		e := &podExit{pod: pod.Name, seen: now}
		if srv := m.servers[m.procs[pod.Name]]; srv != nil {
			for _, w := range srv.ActiveWorkers {
				if w.Started.Add(m.taskDuration).After(now) {
					e.running++
				}
			}
		}
		m.exits[pod.Name] = e
	}
}

func processKey(host string, pid int) string { return host + "/" + strconv.Itoa(pid) }

// current returns the latest sample of the Deployment.
func (m *monitor) current() (sample, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) == 0 {
		return sample{}, false
	}
	return m.samples[len(m.samples)-1], true
}

// firstDesiredAbove returns the first sample after t whose desired count is
// above n.
func (m *monitor) firstDesiredAbove(n int32, t time.Time) (sample, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.samples {
		if s.at.After(t) && s.desired > n {
			return s, true
		}
	}
	return sample{}, false
}

// peak returns the highest desired and current counts since t (the count in
// force at t included).
func (m *monitor) peak(t time.Time) (desired, current int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.samples {
		if s.at.After(t) || i == len(m.samples)-1 || m.samples[i+1].at.After(t) {
			desired, current = max(desired, s.desired), max(current, s.current)
		}
	}
	return desired, current
}

// lowestDesired returns the lowest desired count in force between from and
// to.
func (m *monitor) lowestDesired(from, to time.Time) (int32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var low int32
	found := false
	for i, s := range m.samples {
		if s.at.After(to) {
			break
		}
		inForce := s.at.After(from) || i == len(m.samples)-1 || m.samples[i+1].at.After(from)
		if inForce && (!found || s.desired < low) {
			low, found = s.desired, true
		}
	}
	return low, found
}

// scaleStep is one change of the desired count.
type scaleStep struct {
	at       time.Time
	from, to int32
	// active is the number of running tasks Redis reported at the poll
	// closest before the step; -1 when unknown.
	active int64
}

// scaleDowns returns every decrease of the desired count since t.
func (m *monitor) scaleDowns(t time.Time) []scaleStep {
	m.mu.Lock()
	defer m.mu.Unlock()
	var steps []scaleStep
	for i := 1; i < len(m.samples); i++ {
		prev, s := m.samples[i-1], m.samples[i]
		if s.at.Before(t) || s.desired >= prev.desired {
			continue
		}
		step := scaleStep{at: s.at, from: prev.desired, to: s.desired, active: -1}
		for _, o := range m.obs {
			if o.at.After(s.at) {
				break
			}
			if o.active >= 0 {
				step.active = o.active
			}
		}
		steps = append(steps, step)
	}
	return steps
}

// firstReachable returns the first poll after t whose RedisReachable
// condition had status want.
func (m *monitor) firstReachable(want metav1.ConditionStatus, t time.Time) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.obs {
		if o.at.After(t) && o.reachable == want {
			return o.at, true
		}
	}
	return time.Time{}, false
}

// lastObservation returns the last poll before t in which Redis answered.
func (m *monitor) lastObservation(t time.Time) (observation, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var last observation
	found := false
	for _, o := range m.obs {
		if o.at.After(t) {
			break
		}
		if o.active >= 0 {
			last, found = o, true
		}
	}
	return last, found
}

// strandedActive looks, after t, for tasks that stayed in the active list
// once nothing was pending any more: tasks whose worker lost Redis while
// running them, which asynq hands back only when their lease has expired.
// It returns how many the last such poll saw (the first ones also count
// tasks that were just finishing), and the first and last poll that saw
// any.
func (m *monitor) strandedActive(t time.Time) (n int64, from, to time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.obs {
		if !o.at.After(t) || o.pending != 0 || o.active <= 0 {
			continue
		}
		if from.IsZero() {
			from = o.at
		}
		to, n = o.at, o.active
	}
	return n, from, to
}

// busyPods returns how many of the workers' pods run tasks of ids, and
// how many of those tasks run, as asynq's latest heartbeats tell.
func (m *monitor) busyPods(ids map[string]bool) (pods, tasks int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, key := range m.procs {
		srv := m.servers[key]
		if srv == nil {
			continue
		}
		n := 0
		for _, w := range srv.ActiveWorkers {
			if ids[w.TaskID] {
				n++
			}
		}
		if n > 0 {
			pods++
			tasks += n
		}
	}
	return pods, tasks
}

// podExits returns the worker pods seen being deleted.
func (m *monitor) podExits() []podExit {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]podExit, 0, len(m.exits))
	for _, e := range m.exits {
		out = append(out, *e)
	}
	return out
}

// timeline renders the desired-count changes since t for the report, such
// as "1 →(+1.2s) 10 →(+14.8s) 1".
func (m *monitor) timeline(t time.Time) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := ""
	var last int32 = -1
	for i, s := range m.samples {
		inForce := s.at.After(t) || i == len(m.samples)-1 || m.samples[i+1].at.After(t)
		if !inForce || s.desired == last {
			continue
		}
		if last < 0 {
			out = strconv.Itoa(int(s.desired))
		} else {
			out += fmt.Sprintf(" →(+%.1fs) %d", s.at.Sub(t).Seconds(), s.desired)
		}
		last = s.desired
	}
	return out
}
