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

package autoscale

import (
	"math"
	"time"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// Defaults of spec.autoscaling, the same as the CRD's. The API server applies
// them when an object is created; SettingsFor applies them again so that a
// spec which skipped defaulting (a unit test, an object stored by an older
// CRD) is decided the same way.
const (
	DefaultMinReplicas       = 1
	DefaultPollInterval      = time.Second
	DefaultActivationBacklog = 0
	DefaultScaleToZeroDelay  = 5 * time.Minute
	// DefaultScaleUpWindow is zero: a backlog is answered at once, in one
	// step from the current count to the recommendation.
	DefaultScaleUpWindow = 0
	// DefaultScaleDownWindow keeps the highest recommendation of the last
	// five minutes, so a queue that empties between bursts keeps its workers.
	DefaultScaleDownWindow  = 5 * time.Minute
	DefaultStepPeriod       = 15 * time.Second
	DefaultFailureThreshold = 3
	// MinFallbackDelay is the shortest outage that applies
	// onRedisError.fallbackReplicas, whatever failureThreshold times
	// pollInterval comes to: long enough for a managed Redis to fail over
	// or roll a pod without the workers following every blip.
	MinFallbackDelay = 30 * time.Second
)

// defaultConcurrency mirrors the CRD default of spec.concurrency; the
// controller passes the defaulted value, this only covers a zero.
const defaultConcurrency = 4

// Settings is spec.autoscaling with every default applied and every value
// brought into the range the CRD validates, so the rules never meet a nil
// pointer or a negative duration. The controller uses it too, for the poll
// interval, so that defaults live in one place.
type Settings struct {
	// MinReplicas is at most MaxReplicas: when a spec that skipped
	// validation has them crossed, the maximum wins, because it is the limit
	// users set to protect the cluster and their budget.
	MinReplicas int32
	MaxReplicas int32

	PollInterval time.Duration

	// Concurrency is the tasks each worker runs at once; the active floor
	// divides by it.
	Concurrency int32
	// TargetBacklogPerReplica is at least 1; it defaults to Concurrency.
	TargetBacklogPerReplica int32
	// TargetLatency is zero when the latency rule is off.
	TargetLatency time.Duration

	ActivationBacklog int32
	ScaleToZeroDelay  time.Duration

	ScaleUp   DirectionSettings
	ScaleDown DirectionSettings

	// FailureThreshold is the consecutive failed reads after which
	// FallbackReplicas applies, once they have also lasted FallbackDelay.
	FailureThreshold int32
	// FallbackReplicas is nil when Redis errors hold the current count.
	FallbackReplicas *int32
}

// DirectionSettings shapes scaling in one direction.
type DirectionSettings struct {
	// StabilizationWindow is how far back recommendations count.
	StabilizationWindow time.Duration
	// MaxStep is the most replicas changed per Period; 0 means no limit.
	MaxStep int32
	Period  time.Duration
}

// SettingsFor applies the defaults to spec. concurrency is the QueueWorker's
// spec.concurrency: targetBacklogPerReplica defaults to it, because a worker
// that runs four tasks at once is busy with four tasks of backlog.
func SettingsFor(spec queueworkerv1alpha1.Autoscaling, concurrency int32) Settings {
	s := Settings{
		MaxReplicas:       max(spec.MaxReplicas, 0),
		MinReplicas:       DefaultMinReplicas,
		PollInterval:      DefaultPollInterval,
		Concurrency:       concurrency,
		ActivationBacklog: DefaultActivationBacklog,
		ScaleToZeroDelay:  DefaultScaleToZeroDelay,
		ScaleUp:           directionFor(spec.ScaleUp, DefaultScaleUpWindow),
		ScaleDown:         directionFor(scaleDownRules(spec.ScaleDown), DefaultScaleDownWindow),
		FailureThreshold:  DefaultFailureThreshold,
	}
	if spec.MinReplicas != nil {
		s.MinReplicas = max(*spec.MinReplicas, 0)
	}
	s.MinReplicas = min(s.MinReplicas, s.MaxReplicas)
	if spec.PollInterval != nil && spec.PollInterval.Duration > 0 {
		s.PollInterval = spec.PollInterval.Duration
	}
	if s.Concurrency < 1 {
		s.Concurrency = defaultConcurrency
	}
	s.TargetBacklogPerReplica = s.Concurrency
	if spec.TargetBacklogPerReplica != nil && *spec.TargetBacklogPerReplica >= 1 {
		s.TargetBacklogPerReplica = *spec.TargetBacklogPerReplica
	}
	if spec.TargetLatency != nil && spec.TargetLatency.Duration > 0 {
		s.TargetLatency = spec.TargetLatency.Duration
	}
	if spec.ActivationBacklog != nil {
		s.ActivationBacklog = max(*spec.ActivationBacklog, 0)
	}
	if spec.ScaleToZeroDelay != nil {
		s.ScaleToZeroDelay = max(spec.ScaleToZeroDelay.Duration, 0)
	}
	if e := spec.OnRedisError; e != nil {
		if e.FailureThreshold >= 1 {
			s.FailureThreshold = e.FailureThreshold
		}
		if e.FallbackReplicas != nil {
			fallback := *e.FallbackReplicas
			s.FallbackReplicas = &fallback
		}
	}
	return s
}

// scaleDownRules are the rules shared with scaleUp, nil when unset.
func scaleDownRules(r *queueworkerv1alpha1.ScaleDownRules) *queueworkerv1alpha1.ScalingRules {
	if r == nil {
		return nil
	}
	return &r.ScalingRules
}

func directionFor(rules *queueworkerv1alpha1.ScalingRules, window time.Duration) DirectionSettings {
	d := DirectionSettings{StabilizationWindow: window, Period: DefaultStepPeriod}
	if rules == nil {
		return d
	}
	if rules.StabilizationWindow != nil {
		d.StabilizationWindow = max(rules.StabilizationWindow.Duration, 0)
	}
	if rules.MaxStep != nil {
		// The CRD's minimum is 1; a zero that slipped through would freeze
		// scaling in this direction, so it reads as the tightest real limit.
		d.MaxStep = max(*rules.MaxStep, 1)
	}
	if rules.Period != nil && rules.Period.Duration > 0 {
		d.Period = rules.Period.Duration
	}
	return d
}

// fallback is the replica count on a Redis error once the threshold is
// reached, and whether there is one. It may be below MinReplicas: the user
// named this count for exactly this situation (0 to stop workers that cannot
// reach Redis anyway, for example) and the CRD bounds it only by
// maxReplicas. It is never above MaxReplicas nor below zero.
func (s Settings) fallback() (int32, bool) {
	if s.FallbackReplicas == nil {
		return 0, false
	}
	return min(max(*s.FallbackReplicas, 0), s.MaxReplicas), true
}

// FallbackDelay is how long the failed reads must have lasted before
// FallbackReplicas applies: failureThreshold poll intervals, at least
// MinFallbackDelay, saturating rather than overflowing for a huge threshold.
func (s Settings) FallbackDelay() time.Duration {
	n := time.Duration(max(s.FailureThreshold, 1))
	if s.PollInterval > 0 && n > time.Duration(math.MaxInt64)/s.PollInterval {
		return time.Duration(math.MaxInt64)
	}
	return max(n*s.PollInterval, MinFallbackDelay)
}

// WakeAfter is how long a task may wait while the workers are at zero
// before they wake, whatever the activation backlog: targetLatency when
// set, since that is the wait the user asked for, else scaleToZeroDelay, the
// time the user accepts workers idling, and so a fair time for work to wait.
func (s Settings) WakeAfter() time.Duration {
	if s.TargetLatency > 0 {
		return s.TargetLatency
	}
	return s.ScaleToZeroDelay
}

// historyWindow is how long recommendations must be remembered.
func (s Settings) historyWindow() time.Duration {
	return max(s.ScaleUp.StabilizationWindow, s.ScaleDown.StabilizationWindow)
}

// eventWindow is how long scale events must be remembered: the longest
// period of a direction that has a step limit.
func (s Settings) eventWindow() time.Duration {
	var w time.Duration
	for _, d := range []DirectionSettings{s.ScaleUp, s.ScaleDown} {
		if d.MaxStep > 0 {
			w = max(w, d.Period)
		}
	}
	return w
}

func (s Settings) clamp(n int64) int32 {
	return int32(min(max(n, int64(s.MinReplicas)), int64(s.MaxReplicas)))
}
