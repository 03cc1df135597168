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

// Package scaling runs the autoscaler: it polls Redis for the queues of
// every autoscaled QueueWorker, one poller per endpoint shared by every
// QueueWorker on it, asks internal/autoscale for their replica counts, keeps
// what each decision needs between polls, and wakes a QueueWorker's
// reconcile when a user would act on the news. It serves the autoscaler's
// metrics. The QueueWorker controller registers its targets, writes the
// counts and reports them back (Applied).
package scaling

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/autoscale"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// DefaultStatusInterval is the shortest time between two wake-ups of a
// QueueWorker for a status change alone; a new replica count wakes it at
// once.
const DefaultStatusInterval = 5 * time.Second

const (
	// dueHorizon is how far ahead scheduled and retry tasks count as
	// backlog: a task due within it needs a worker soon.
	dueHorizon = 5 * time.Second
	// readTimeout bounds one read of an endpoint's queues.
	readTimeout = 3 * time.Second
	// alignSlack lets targets whose next poll is this close ride along
	// with a read, so QueueWorkers with the same interval share it.
	alignSlack = 100 * time.Millisecond
)

// Target is what the reconciler tells the autoscaler about an autoscaled
// QueueWorker each time it reconciles it.
type Target struct {
	// Object is the QueueWorker, used to wake its reconcile.
	Object client.Object
	// UID is the QueueWorker's: a QueueWorker deleted and created again
	// under the same name starts with no memory of the old one.
	UID types.UID
	// Endpoint and Credentials reach its Redis.
	Endpoint    resources.RedisEndpoint
	Credentials queue.Credentials
	// Queues are the queue names in spec order.
	Queues []string
	// Spec is the autoscaling block; Concurrency the worker concurrency.
	Spec        queueworkerv1alpha1.Autoscaling
	Concurrency int32
	// CurrentReplicas and ReadyReplicas describe the Deployment.
	CurrentReplicas, ReadyReplicas int32
	// DeploymentUID and DeploymentGeneration identify the version of the
	// Deployment that CurrentReplicas was read from, so that a read from a
	// cache that has not yet seen the autoscaler's own last write (see
	// Applied) does not take the count back.
	DeploymentUID        types.UID
	DeploymentGeneration int64
	// LastActiveTime seeds the scale-to-zero delay after an operator
	// restart, from status.lastActiveTime.
	LastActiveTime time.Time
}

// Result is the autoscaler's latest reading and decision for a QueueWorker.
type Result struct {
	// At is when Redis was read.
	At time.Time
	// Stats holds the queues in spec order; empty when the read failed.
	Stats []queue.Stats
	// Err is the read error as far as it concerns this QueueWorker's
	// queues, if any.
	Err error
	// ErrQueues are the QueueWorker's queues whose keys Redis answered with
	// an error, in spec order; empty when the read failed as a whole.
	ErrQueues []string
	// Servers are the live asynq servers of the endpoint as read at At:
	// all of them, whatever queues they serve, the same for every
	// QueueWorker on the endpoint, so read-only. A server's Host is the
	// hostname of its pod, its name, by which a QueueWorker finds the
	// servers of its own pods. Servers.Err is set when they were not read
	// (Redis Cluster, an error about their keys, or Err, the read failing
	// as a whole); a List shorter than Servers.Live is incomplete, and a
	// pod missing from it is unknown, not idle.
	Servers queue.Servers
	// Decision is the replica decision for this reading.
	Decision autoscale.Decision
	// RecoveredAfter is the number of failed reads in a row that came
	// before this successful one; zero when the one before succeeded too.
	RecoveredAfter int32
	// CurrentReplicas is the Deployment's replica count as the autoscaler
	// knows it when Update returns: the caller's, unless the caller read a
	// Deployment older than the last change Applied, whose count it is then.
	// The caller compares the decision with it, so that a stale read does
	// not write, announce and record the same change twice.
	CurrentReplicas int32
}

// Autoscaler polls Redis for every autoscaled QueueWorker, one poller per
// endpoint, and decides their replica counts. It wakes a QueueWorker's
// reconcile (through Events, a channel source) only for news a user would
// act on (see wakesLocked), and Update returns the result of the last
// wake-up, so reconciles for other causes write nothing new. It is a manager
// runnable that runs on the leader only (NeedLeaderElection).
type Autoscaler struct {
	pool *queue.Pool
	// events carries wake-ups to the QueueWorker controller.
	events chan event.TypedGenericEvent[client.Object]
	// StatusInterval overrides DefaultStatusInterval.
	StatusInterval time.Duration

	// now is the clock; time.Now unless a test sets it.
	now func() time.Time
	// manual leaves the pollers without their goroutines, so that a test
	// can drive every poll itself (pollAll) on its own clock.
	manual bool

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	targets map[types.NamespacedName]*target
	pollers map[queue.EndpointKey]*poller
	metrics *autoscalerMetrics
}

// target is a registered QueueWorker.
type target struct {
	Target
	key      queue.EndpointKey
	release  func()
	state    autoscale.State
	nextPoll time.Time
	result   *Result
	// seen is the last successful read of the target's queues, and
	// seenServers the servers of the same read, at seenAt; a change of
	// spec is decided again on them.
	seen        map[string]queue.Stats
	seenServers queue.Servers
	seenAt      time.Time
	// written is the Deployment version of the last change Applied.
	written deploymentVersion
	// woken is the result the reconcile was last woken for, at
	// lastStatusWake: what Update returns, so that every reconcile between
	// two wake-ups writes the same status.
	woken          *Result
	lastStatusWake time.Time
}

// deploymentVersion identifies one write of a Deployment: the generation
// grows with every change of its spec, and the UID tells a recreated
// Deployment (whose generation starts again at 1) from the old one.
type deploymentVersion struct {
	uid        types.UID
	generation int64
}

// poller reads one endpoint's queues.
type poller struct {
	client *queue.Client
	wake   chan struct{}
	stop   context.CancelFunc
	// sightings bound each queue's pending age by what this poller saw,
	// on the operator's clock; guarded by the Autoscaler's mutex.
	sightings map[string]queue.Sighting
}

// NewAutoscaler returns an autoscaler that builds its Redis clients with
// the given pool (queue.NewPool(nil) in production).
func NewAutoscaler(pool *queue.Pool) *Autoscaler {
	ctx, cancel := context.WithCancel(context.Background())
	return &Autoscaler{
		pool:    pool,
		events:  make(chan event.TypedGenericEvent[client.Object], 1024),
		now:     time.Now,
		ctx:     ctx,
		cancel:  cancel,
		targets: map[types.NamespacedName]*target{},
		pollers: map[queue.EndpointKey]*poller{},
		metrics: newAutoscalerMetrics(),
	}
}

// Events carries the QueueWorkers whose reconcile has news to write: the
// QueueWorker controller watches it as a channel source.
func (a *Autoscaler) Events() <-chan event.TypedGenericEvent[client.Object] {
	return a.events
}

// NeedLeaderElection runs the autoscaler on the leader only, beside the
// QueueWorker controller that registers its targets and reconciles what it
// wakes.
func (a *Autoscaler) NeedLeaderElection() bool {
	return true
}

// Start blocks until ctx ends, then stops every poller and closes the
// Redis clients.
func (a *Autoscaler) Start(ctx context.Context) error {
	<-ctx.Done()
	a.cancel()
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, t := range a.targets {
		t.release()
		delete(a.targets, name)
	}
	for key, p := range a.pollers {
		a.stopPollerLocked(key, p)
	}
	return a.pool.Close()
}

// Update registers or refreshes an autoscaled QueueWorker and returns the
// result its reconcile was last woken for, nil before the first. A change
// of spec is decided at once (see redecideLocked) and returned.
func (a *Autoscaler) Update(name types.NamespacedName, in Target) (*Result, error) {
	key := a.pool.Key(in.Endpoint, in.Credentials)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx.Err() != nil {
		return nil, errors.New("the autoscaler has stopped")
	}
	t, ok := a.targets[name]
	if ok && t.UID != in.UID {
		// Another object of the same name: nothing of the old one's
		// decisions applies to it.
		a.dropLocked(name, t)
		t, ok = nil, false
	}
	if ok && t.key != key {
		// The endpoint or its credentials changed: start over on the
		// new client, keeping the decision history.
		a.dropLocked(name, t)
		state := t.state
		t = nil
		ok = false
		defer func() {
			if nt := a.targets[name]; nt != nil {
				nt.state = state
			}
		}()
	}
	if !ok {
		c, release, err := a.pool.Acquire(in.Endpoint, in.Credentials)
		if err != nil {
			return nil, err
		}
		now := a.now()
		t = &target{key: key, release: release, nextPoll: now}
		// Remember the current count as a recommendation, so that an
		// operator restart does not scale down before the window has
		// seen the load again.
		t.state.Recommendations = []autoscale.Recommendation{{Time: now, Replicas: in.CurrentReplicas}}
		t.state.LastActiveTime = in.LastActiveTime
		a.targets[name] = t
		p := a.pollers[key]
		if p == nil {
			p = a.startPollerLocked(key, c)
		}
		defer p.nudge()
	}
	if ok && in.DeploymentUID == t.written.uid && in.DeploymentGeneration < t.written.generation {
		// The caller read the Deployment from a cache that has not caught
		// up with the last change Applied: that change is the current count.
		in.CurrentReplicas = t.CurrentReplicas
	}
	changedInterval := pollInterval(t.Spec) != pollInterval(in.Spec)
	changedSpec := ok && specChanged(t.Target, in)
	// A count the autoscaler did not write (kubectl scale on the
	// Deployment): decide again from it, so that the way back respects the
	// windows and step limits rather than returning to the old decision at
	// once.
	changedCount := ok && in.CurrentReplicas != t.CurrentReplicas
	t.Target = in
	if changedInterval {
		t.nextPoll = a.now()
		defer a.pollers[key].nudge()
	}
	if (changedSpec || changedCount) && t.result != nil && !a.redecideLocked(name, t) {
		t.nextPoll = a.now()
		defer a.pollers[key].nudge()
	}
	if t.woken == nil {
		return nil, nil
	}
	r := *t.woken
	r.CurrentReplicas = t.CurrentReplicas
	return &r, nil
}

// Applied tells the autoscaler that the controller changed name's worker
// Deployment from from to to replicas at at; written is the Deployment as the
// API server returned it, nil when unknown. The next decision counts from
// the new count and finds the change in the step limits' history at once,
// without waiting for the next reconcile to report the count: a poll in
// between would otherwise decide from the old count with the step still
// unspent, and take the change back in the middle of a burst.
func (a *Autoscaler) Applied(name types.NamespacedName, from, to int32, at time.Time, written metav1.Object) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.targets[name]
	if !ok {
		return
	}
	t.state = autoscale.Applied(t.state, t.Spec, at, from, to)
	t.CurrentReplicas = to
	if written != nil {
		t.written = deploymentVersion{uid: written.GetUID(), generation: written.GetGeneration()}
	}
}

// Remove forgets a QueueWorker that is gone or no longer autoscaled.
func (a *Autoscaler) Remove(name types.NamespacedName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.targets[name]; ok {
		a.dropLocked(name, t)
	}
}

func (a *Autoscaler) dropLocked(name types.NamespacedName, t *target) {
	delete(a.targets, name)
	t.release()
	a.metrics.forget(name)
	for _, other := range a.targets {
		if other.key == t.key {
			return
		}
	}
	if p := a.pollers[t.key]; p != nil {
		a.stopPollerLocked(t.key, p)
	}
}

// stopPollerLocked stops a poller and lets go of its metric series.
func (a *Autoscaler) stopPollerLocked(key queue.EndpointKey, p *poller) {
	p.stop()
	delete(a.pollers, key)
	a.metrics.endpointStopped(key.Label())
}

func (a *Autoscaler) startPollerLocked(key queue.EndpointKey, c *queue.Client) *poller {
	ctx, cancel := context.WithCancel(a.ctx)
	p := &poller{client: c, wake: make(chan struct{}, 1), stop: cancel, sightings: map[string]queue.Sighting{}}
	a.pollers[key] = p
	a.metrics.endpointStarted(key.Label())
	if !a.manual {
		go a.runPoller(ctx, key, p)
	}
	return p
}

func (p *poller) nudge() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// runPoller reads the endpoint whenever a target is due: the queues of all
// targets due within alignSlack go into one read (one pipeline, two round
// trips at most).
func (a *Autoscaler) runPoller(ctx context.Context, key queue.EndpointKey, p *poller) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-timer.C:
		}
		next := a.pollOnce(ctx, key, p)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(next), 0))
	}
}

// pollOnce reads for the due targets and returns when the next is due.
func (a *Autoscaler) pollOnce(ctx context.Context, key queue.EndpointKey, p *poller) time.Time {
	now := a.now()
	a.mu.Lock()
	var due []types.NamespacedName
	var names []string
	for name, t := range a.targets {
		if t.key == key && !t.nextPoll.After(now.Add(alignSlack)) {
			due = append(due, name)
			names = append(names, t.Queues...)
		}
	}
	a.mu.Unlock()

	if len(due) > 0 {
		readCtx, cancel := context.WithTimeout(ctx, readTimeout)
		start := time.Now()
		reading, err := queue.ReadStats(readCtx, p.client.Redis(), names, now, dueHorizon)
		cancel()
		took := time.Since(start)
		if ctx.Err() != nil {
			return now
		}
		var wake []client.Object
		a.mu.Lock()
		if a.pollers[key] == p {
			// Checked under the lock that stopping takes, so that a read
			// that ends as the poller stops leaves no series behind.
			a.metrics.observeRead(key.Label(), took)
		}
		if err == nil {
			a.boundAgesLocked(key, p, reading.Queues, now)
		}
		for _, name := range due {
			t, ok := a.targets[name]
			if !ok || t.key != key {
				continue
			}
			if a.decideLocked(name, t, now, reading, err) {
				wake = append(wake, t.Object)
			}
		}
		a.mu.Unlock()
		for _, obj := range wake {
			select {
			case a.events <- event.TypedGenericEvent[client.Object]{Object: obj}:
			case <-ctx.Done():
				return now
			}
		}
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	next := time.Time{}
	for _, t := range a.targets {
		if t.key == key && (next.IsZero() || t.nextPoll.Before(next)) {
			next = t.nextPoll
		}
	}
	if next.IsZero() {
		next = now.Add(time.Minute)
	}
	return next
}

// boundAgesLocked bounds the pending age of each queue read by what the
// poller saw of it (see queue.Sighting): the producers' clocks, which
// pending_since is written with, may be off by minutes. It forgets the
// queues that no target on the endpoint reads any more.
func (a *Autoscaler) boundAgesLocked(key queue.EndpointKey, p *poller, stats map[string]queue.Stats, now time.Time) {
	for q, s := range stats {
		p.sightings[q], stats[q] = p.sightings[q].Bound(s, now)
	}
	read := map[string]bool{}
	for _, t := range a.targets {
		if t.key == key {
			for _, q := range t.Queues {
				read[q] = true
			}
		}
	}
	for q := range p.sightings {
		if !read[q] {
			delete(p.sightings, q)
		}
	}
}

// covers tells whether stats holds every one of queues.
func covers(stats map[string]queue.Stats, queues []string) bool {
	for _, q := range queues {
		if _, ok := stats[q]; !ok {
			return false
		}
	}
	return true
}

// specChanged reports a change of what the decision depends on besides
// the queues' statistics and the Deployment.
func specChanged(old, in Target) bool {
	return old.Concurrency != in.Concurrency || !slices.Equal(old.Queues, in.Queues) ||
		!equality.Semantic.DeepEqual(old.Spec, in.Spec)
}

// redecideLocked answers a change of t's spec, or of its count by someone
// else, at once instead of one poll interval later, when the reconcile that
// brings the change would otherwise write the decision made before it
// (maxReplicas lowered from 20 to 3 would keep 20 for a poll). It decides
// again on the last read when that succeeded and covered every queue t
// reads now, and reports whether it did. Otherwise (a failure streak, new
// queues) it keeps the last decision within the new bounds, and the caller
// polls at once.
func (a *Autoscaler) redecideLocked(name types.NamespacedName, t *target) bool {
	// The reconcile calling Update writes this result: it is woken now.
	defer func() { t.woken, t.lastStatusWake = t.result, a.now() }()
	// During a failure streak the last read is from before it: deciding
	// on it would read as a recovery and restart the fallback's clock.
	if t.result.Err == nil && t.seen != nil && covers(t.seen, t.Queues) {
		a.runDecisionLocked(name, t, a.now(), t.seenAt, queue.Reading{Queues: t.seen, Servers: t.seenServers}, nil)
		return true
	}
	base := t.result
	if base.Err != nil && !errShown(t, base) && t.woken != nil {
		// A blip the status does not show: keep showing the last reading.
		base = t.woken
	}
	r := *base
	r.Decision = clampDecision(r.Decision, autoscale.SettingsFor(t.Spec, t.Concurrency))
	t.result = &r
	return false
}

// clampDecision keeps d within the bounds of s, as far as Decide would: a
// fallback may lie below minReplicas.
func clampDecision(d autoscale.Decision, s autoscale.Settings) autoscale.Decision {
	lo := s.MinReplicas
	if d.Rule == autoscale.RuleRedisErrorFallback {
		lo = 0
	}
	n := min(max(d.DesiredReplicas, lo), s.MaxReplicas)
	switch {
	case n > d.DesiredReplicas:
		d.Rule = autoscale.RuleMinReplicas
	case n < d.DesiredReplicas:
		d.Rule = autoscale.RuleMaxReplicas
	default:
		return d
	}
	d.Reason += fmt.Sprintf("; the spec changed: kept within [%d, %d] until the next read", lo, s.MaxReplicas)
	d.DesiredReplicas = n
	return d
}

// nextTick is when a target read at now, which was due at due, is due
// again: the first multiple of interval on the clock after both, and not
// sooner than the ride-along slack after now. The targets of an endpoint
// with the same interval, whenever each was registered, come due at the
// same instants and so share one read per tick: polling each on its own
// phase would cost Redis one round trip and one pipeline per group,
// several times per interval. A target read early, riding along with
// another's read within alignSlack of its due time, or a new one read just
// before a tick, is not read again at that tick. The result keeps now's
// monotonic clock reading, so a step of the wall clock does not stall or
// hurry the polls.
func nextTick(now, due time.Time, interval time.Duration) time.Time {
	base := now
	if due.After(now) {
		base = due
	}
	// Truncate works on the wall clock and drops the monotonic reading;
	// the offset it gives is applied to now, which keeps it.
	next := now.Add(base.Sub(now) + interval - base.Sub(base.Truncate(interval)))
	if next.Sub(now) < min(alignSlack, interval/2) {
		next = next.Add(interval)
	}
	return next
}

// decideLocked runs the decision for one target on a read at now and
// reports whether its reconcile should wake.
func (a *Autoscaler) decideLocked(name types.NamespacedName, t *target, now time.Time,
	reading queue.Reading, readErr error) bool {
	if readErr == nil && !covers(reading.Queues, t.Queues) {
		// t's queues changed while the read was in flight: a queue the
		// read did not ask for is not an empty queue. Read again.
		t.nextPoll = now
		return false
	}
	a.runDecisionLocked(name, t, now, now, reading, readErr)
	t.nextPoll = nextTick(now, t.nextPoll, pollInterval(t.Spec))
	if !a.wakesLocked(t, now) {
		return false
	}
	t.woken, t.lastStatusWake = t.result, now
	return true
}

// wakesLocked reports whether t's latest result differs from the one its
// reconcile last wrote in what a user would act on. A new replica count,
// Redis becoming unreachable (failureThreshold failed reads in a row) or
// reachable, or errors moving to other queues wake it at once. A change of a count, of the deciding rule or of a
// latency's coarse bucket wakes it at most every StatusInterval. Anything
// else, such as the age of a task in a paused queue growing by a poll
// interval, or the reason text restating it, waits for one of those, so a
// queue that stays non-empty does not rewrite the status on every poll.
func (a *Autoscaler) wakesLocked(t *target, now time.Time) bool {
	r, w := t.result, t.woken
	shown := errShown(t, r)
	if w == nil || r.Decision.DesiredReplicas != w.Decision.DesiredReplicas ||
		shown != (w.Err != nil) || (shown && !slices.Equal(r.ErrQueues, w.ErrQueues)) {
		return true
	}
	if r.Err != nil && !shown {
		// A blip: the count is held and the status keeps the last reading.
		return false
	}
	return statusKey(r) != statusKey(w) && now.Sub(t.lastStatusWake) >= a.statusInterval()
}

// errShown tells whether r's read error is news for the status: only once
// reads have failed failureThreshold times in a row, for at least
// failureThreshold poll intervals and a second. A shorter blip (a
// dropped connection, a Redis pod rolling) holds the count without a
// status write and a pair of events per blip for every QueueWorker on the
// endpoint.
func errShown(t *target, r *Result) bool {
	if r.Err == nil {
		return false
	}
	s := autoscale.SettingsFor(t.Spec, t.Concurrency)
	st := r.Decision.State
	return st.ConsecutiveFailures >= s.FailureThreshold &&
		r.At.Sub(st.FailingSince) >= max(time.Duration(s.FailureThreshold)*s.PollInterval, minShownOutage)
}

// minShownOutage is the shortest failure streak the status reports, however
// fast the polls: at a 100ms poll three failed reads are a 300ms blip.
const minShownOutage = time.Second

// statusKey is what the status shows of a result, with each latency
// reduced to its bucket.
func statusKey(r *Result) string {
	b := make([]byte, 0, 64*(len(r.Stats)+1))
	b = fmt.Appendf(b, "%s %d %t;", r.Decision.Rule, r.Decision.Backlog, r.Err != nil)
	for _, s := range r.Stats {
		b = fmt.Appendf(b, "%s %d %d %d %d %d %d %d %t %t %d;", s.Queue, s.Pending, s.Active, s.Orphaned, s.Scheduled,
			s.Retry, s.Aggregating, s.Archived, s.Paused, s.OldestKnown, latencyBucket(s.OldestPendingAge))
	}
	return string(b)
}

// latencyBuckets are the bounds a latency must cross to be news: within a
// bucket its growth says nothing a user would act on.
var latencyBuckets = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour,
}

// latencyBucket is the number of bucket bounds d has reached.
func latencyBucket(d time.Duration) int {
	n, _ := slices.BinarySearch(latencyBuckets, d)
	if n < len(latencyBuckets) && latencyBuckets[n] == d {
		n++
	}
	return n
}

// runDecisionLocked decides for t at now on the reading made at readAt,
// and keeps the result, the new State and, when t's queues were read, the
// reading.
func (a *Autoscaler) runDecisionLocked(name types.NamespacedName, t *target, now, readAt time.Time,
	reading queue.Reading, readErr error) {
	stats := reading.Queues
	servers := reading.Servers
	if readErr != nil {
		// A read that failed as a whole read no servers either.
		servers = queue.Servers{Err: readErr}
	}
	errQueues, readErr := targetError(t.Queues, stats, readErr)
	obs := autoscale.Observation{Err: readErr}
	var ordered []queue.Stats
	if readErr == nil {
		t.seen, t.seenServers, t.seenAt = make(map[string]queue.Stats, len(t.Queues)), servers, readAt
		for _, q := range t.Queues {
			s := stats[q]
			s.Queue = q
			t.seen[q] = s
			ordered = append(ordered, s)
			obs.Queues = append(obs.Queues, autoscale.QueueStats{
				Name: q, Pending: s.Pending, Active: s.Active, Orphaned: s.Orphaned, Scheduled: s.Scheduled, Retry: s.Retry,
				Aggregating: s.Aggregating, Paused: s.Paused,
				OldestPendingAge: s.OldestPendingAge, OldestDueAge: s.OldestDueAge,
			})
		}
	}
	failedBefore := t.state.ConsecutiveFailures
	ready := t.ReadyReplicas
	d := autoscale.Decide(autoscale.Input{
		Now:             now,
		Spec:            t.Spec,
		Concurrency:     t.Concurrency,
		CurrentReplicas: t.CurrentReplicas,
		ReadyReplicas:   &ready,
		Observation:     obs,
		State:           t.state,
	})
	t.state = d.State
	t.result = &Result{At: readAt, Stats: ordered, Err: readErr, ErrQueues: errQueues, Servers: servers, Decision: d}
	if readErr == nil {
		t.result.RecoveredAfter = failedBefore
	}
	a.metrics.observeDecision(name, t.result, t.CurrentReplicas, &t.Spec)
	if readErr != nil && readAt.Equal(now) {
		// A read that failed for this target's queues; a decision made
		// again on an earlier read (readAt before now) read nothing.
		a.metrics.readFailed(name)
	}
}

// targetError is the error of a read as far as it concerns the queues of
// one target: the read's own error when it failed as a whole, else the
// errors of the target's queues, which it lists. The errors of other targets' queues on the
// same endpoint are theirs: one team's broken key must neither stop another
// team's scaling nor show up in its status.
func targetError(queues []string, stats map[string]queue.Stats, readErr error) ([]string, error) {
	if readErr != nil {
		return nil, readErr
	}
	var errs []error
	var failed []string
	for _, q := range queues {
		if err := stats[q].Err; err != nil && !slices.Contains(failed, q) {
			errs = append(errs, err)
			failed = append(failed, q)
		}
	}
	return failed, errors.Join(errs...)
}

func pollInterval(spec queueworkerv1alpha1.Autoscaling) time.Duration {
	return autoscale.SettingsFor(spec, 1).PollInterval
}

func (a *Autoscaler) statusInterval() time.Duration {
	if a.StatusInterval > 0 {
		return a.StatusInterval
	}
	return DefaultStatusInterval
}

// drainTimeout bounds one write of drain keys.
const drainTimeout = 3 * time.Second

// SetDrains sets the drain keys of hosts in the Redis of ep (see
// queue.SetDrains), on the client the pollers share.
func (a *Autoscaler) SetDrains(ctx context.Context, ep resources.RedisEndpoint, creds queue.Credentials,
	values map[string]string, ttl time.Duration) error {
	return a.withClient(ctx, ep, creds, func(ctx context.Context, c *queue.Client) error {
		return queue.SetDrains(ctx, c.Redis(), values, ttl)
	})
}

// DeleteDrains deletes the drain keys of hosts in the Redis of ep (see
// queue.DeleteDrains).
func (a *Autoscaler) DeleteDrains(ctx context.Context, ep resources.RedisEndpoint, creds queue.Credentials,
	hosts []string) error {
	return a.withClient(ctx, ep, creds, func(ctx context.Context, c *queue.Client) error {
		return queue.DeleteDrains(ctx, c.Redis(), hosts)
	})
}

func (a *Autoscaler) withClient(ctx context.Context, ep resources.RedisEndpoint, creds queue.Credentials,
	f func(context.Context, *queue.Client) error) error {
	c, release, err := a.pool.Acquire(ep, creds)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	return f(ctx, c)
}

// LatestServers returns the asynq servers of a QueueWorker's endpoint from
// the last successful read, which may be newer than the Result its
// reconcile was last woken for: a heartbeat is no news that wakes it, but
// a drain waits on them. ok is false before the first read.
func (a *Autoscaler) LatestServers(name types.NamespacedName) (servers queue.Servers, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.targets[name]
	if !ok || t.seen == nil {
		return queue.Servers{}, false
	}
	return t.seenServers, true
}
