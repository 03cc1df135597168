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

package worker

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// allVars lists every variable of the contract, to check that an error
// names the bad variable and no other.
var allVars = []string{
	contract.EnvQueues, contract.EnvStrictPriority, contract.EnvConcurrency,
	contract.EnvShutdownTimeout, contract.EnvHealthCheckInterval, contract.EnvHTTPAddr,
	contract.EnvRedisMode, contract.EnvRedisAddr, contract.EnvRedisAddrs,
	contract.EnvRedisMasterName, contract.EnvRedisDB, contract.EnvRedisUsername,
	contract.EnvRedisPassword, contract.EnvRedisTLS, contract.EnvRedisTLSCACert,
	contract.EnvRedisTLSServerName, contract.EnvRedisTLSInsecureSkipVerify,
	contract.EnvRedisPoolSize, contract.EnvRedisMinIdleConns, contract.EnvRedisDialTimeout,
	contract.EnvRedisReadTimeout, contract.EnvRedisWriteTimeout, contract.EnvRedisPoolTimeout,
	contract.EnvRedisConnMaxIdleTime, contract.EnvRedisMaxRetries,
}

// standaloneEnv is what the operator injects for a standalone Redis without
// password or TLS.
func standaloneEnv() map[string]string {
	return map[string]string{
		contract.EnvQueues:               "critical=6,default=3",
		contract.EnvStrictPriority:       "false",
		contract.EnvConcurrency:          "8",
		contract.EnvShutdownTimeout:      "25s",
		contract.EnvHealthCheckInterval:  "15s",
		contract.EnvHTTPAddr:             ":8080",
		contract.EnvRedisMode:            contract.ModeStandalone,
		contract.EnvRedisAddr:            "redis.apps.svc:6379",
		contract.EnvRedisDB:              "2",
		contract.EnvRedisTLS:             "false",
		contract.EnvRedisPoolSize:        "10",
		contract.EnvRedisMinIdleConns:    "2",
		contract.EnvRedisDialTimeout:     "5s",
		contract.EnvRedisReadTimeout:     "3s",
		contract.EnvRedisWriteTimeout:    "3s",
		contract.EnvRedisPoolTimeout:     "4s",
		contract.EnvRedisConnMaxIdleTime: "5m",
		contract.EnvRedisMaxRetries:      "3",
	}
}

func standaloneConfig() Config {
	return Config{
		Queues:              []contract.Queue{{Name: "critical", Priority: 6}, {Name: "default", Priority: 3}},
		Concurrency:         8,
		ShutdownTimeout:     25 * time.Second,
		HealthCheckInterval: 15 * time.Second,
		HTTPAddr:            ":8080",
		Redis: RedisConfig{
			Mode:            contract.ModeStandalone,
			Addr:            "redis.apps.svc:6379",
			DB:              2,
			PoolSize:        10,
			MinIdleConns:    2,
			DialTimeout:     5 * time.Second,
			ReadTimeout:     3 * time.Second,
			WriteTimeout:    3 * time.Second,
			PoolTimeout:     4 * time.Second,
			ConnMaxIdleTime: 5 * time.Minute,
			MaxRetries:      3,
		},
	}
}

func getenv(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}

// with returns a copy of env with changes applied; "" removes a variable.
func with(env map[string]string, changes map[string]string) map[string]string {
	out := maps.Clone(env)
	for k, v := range changes {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

func TestLoadConfigValid(t *testing.T) {
	caPEM := testCACertPEM(t)
	tests := []struct {
		name string
		env  map[string]string
		want func(*Config)
	}{
		{
			name: "standalone",
			env:  standaloneEnv(),
			want: func(*Config) {},
		},
		{
			name: "sentinel with credentials and TLS",
			env: with(standaloneEnv(), map[string]string{
				contract.EnvRedisMode:                  contract.ModeSentinel,
				contract.EnvRedisAddr:                  "",
				contract.EnvRedisAddrs:                 "s-0.sentinel:26379, s-1.sentinel:26379",
				contract.EnvRedisMasterName:            "mymaster",
				contract.EnvRedisUsername:              "worker",
				contract.EnvRedisPassword:              " p@ss word ",
				contract.EnvRedisTLS:                   "true",
				contract.EnvRedisTLSCACert:             caPEM,
				contract.EnvRedisTLSServerName:         "redis.internal",
				contract.EnvRedisTLSInsecureSkipVerify: "true",
				contract.EnvStrictPriority:             "true",
			}),
			want: func(c *Config) {
				c.StrictPriority = true
				c.Redis.Mode = contract.ModeSentinel
				c.Redis.Addr = ""
				c.Redis.Addrs = []string{"s-0.sentinel:26379", "s-1.sentinel:26379"}
				c.Redis.MasterName = "mymaster"
				c.Redis.Username = "worker"
				c.Redis.Password = " p@ss word "
				c.Redis.TLS = RedisTLS{Enabled: true, CACertPEM: caPEM, ServerName: "redis.internal", InsecureSkipVerify: true}
			},
		},
		{
			name: "cluster ignores the standalone address",
			env: with(standaloneEnv(), map[string]string{
				contract.EnvRedisMode:  contract.ModeCluster,
				contract.EnvRedisAddrs: "node-0:6379,node-1:6379,node-2:6379",
				contract.EnvRedisDB:    "0",
			}),
			want: func(c *Config) {
				c.Redis.Mode = contract.ModeCluster
				c.Redis.Addr = ""
				c.Redis.Addrs = []string{"node-0:6379", "node-1:6379", "node-2:6379"}
				c.Redis.DB = 0
			},
		},
		{
			name: "boundaries: one queue, one worker, no retries, no idle connections",
			env: with(standaloneEnv(), map[string]string{
				contract.EnvQueues:            "only=100",
				contract.EnvConcurrency:       "1",
				contract.EnvRedisPoolSize:     "1",
				contract.EnvRedisMinIdleConns: "0",
				contract.EnvRedisMaxRetries:   "0",
				contract.EnvHTTPAddr:          "127.0.0.1:0",
			}),
			want: func(c *Config) {
				c.Queues = []contract.Queue{{Name: "only", Priority: 100}}
				c.Concurrency = 1
				c.Redis.PoolSize = 1
				c.Redis.MinIdleConns = 0
				c.Redis.MaxRetries = 0
				c.HTTPAddr = "127.0.0.1:0"
			},
		},
		{
			name: "TLS with system roots",
			env: with(standaloneEnv(), map[string]string{
				contract.EnvRedisTLS:                   "true",
				contract.EnvRedisTLSInsecureSkipVerify: "false",
			}),
			want: func(c *Config) { c.Redis.TLS = RedisTLS{Enabled: true} },
		},
		{
			name: "min idle equal to pool size",
			env:  with(standaloneEnv(), map[string]string{contract.EnvRedisMinIdleConns: "10"}),
			want: func(c *Config) { c.Redis.MinIdleConns = 10 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(getenv(tt.env))
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			want := standaloneConfig()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("LoadConfig:\n got %+v\nwant %+v", got, want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate of a loaded config: %v", err)
			}
		})
	}
}

func TestLoadConfigInvalid(t *testing.T) {
	sentinel := with(standaloneEnv(), map[string]string{
		contract.EnvRedisMode:       contract.ModeSentinel,
		contract.EnvRedisAddr:       "",
		contract.EnvRedisAddrs:      "s-0:26379",
		contract.EnvRedisMasterName: "mymaster",
	})
	cluster := with(standaloneEnv(), map[string]string{
		contract.EnvRedisMode:  contract.ModeCluster,
		contract.EnvRedisAddr:  "",
		contract.EnvRedisAddrs: "n-0:6379",
		contract.EnvRedisDB:    "0",
	})
	tests := []struct {
		name    string
		base    map[string]string
		changes map[string]string
		wantVar string
		// wantMsg, when set, is the whole expected error.
		wantMsg string
	}{
		{name: "concurrency not a number", changes: map[string]string{contract.EnvConcurrency: "abc"},
			wantVar: contract.EnvConcurrency, wantMsg: `QUEUEWORKER_CONCURRENCY: "abc" is not a whole number`},
		{name: "concurrency zero", changes: map[string]string{contract.EnvConcurrency: "0"},
			wantVar: contract.EnvConcurrency, wantMsg: `QUEUEWORKER_CONCURRENCY: 0 is less than 1`},
		{name: "concurrency missing", changes: map[string]string{contract.EnvConcurrency: ""},
			wantVar: contract.EnvConcurrency, wantMsg: `QUEUEWORKER_CONCURRENCY: not set`},
		{name: "queues missing", changes: map[string]string{contract.EnvQueues: ""}, wantVar: contract.EnvQueues},
		{name: "queue without priority", changes: map[string]string{contract.EnvQueues: "critical"}, wantVar: contract.EnvQueues},
		{name: "queue priority zero", changes: map[string]string{contract.EnvQueues: "a=0"}, wantVar: contract.EnvQueues},
		{name: "queue priority over 100", changes: map[string]string{contract.EnvQueues: "a=101"}, wantVar: contract.EnvQueues},
		{name: "queue twice", changes: map[string]string{contract.EnvQueues: "a=1,a=2"}, wantVar: contract.EnvQueues},
		{name: "strict priority not a boolean", changes: map[string]string{contract.EnvStrictPriority: "yes"}, wantVar: contract.EnvStrictPriority},
		{name: "strict priority missing", changes: map[string]string{contract.EnvStrictPriority: ""}, wantVar: contract.EnvStrictPriority},
		{name: "shutdown timeout without unit", changes: map[string]string{contract.EnvShutdownTimeout: "25"}, wantVar: contract.EnvShutdownTimeout},
		{name: "shutdown timeout zero", changes: map[string]string{contract.EnvShutdownTimeout: "0s"}, wantVar: contract.EnvShutdownTimeout},
		{name: "shutdown timeout negative", changes: map[string]string{contract.EnvShutdownTimeout: "-1s"}, wantVar: contract.EnvShutdownTimeout},
		{name: "health check interval missing", changes: map[string]string{contract.EnvHealthCheckInterval: ""}, wantVar: contract.EnvHealthCheckInterval},
		{name: "http addr missing", changes: map[string]string{contract.EnvHTTPAddr: ""}, wantVar: contract.EnvHTTPAddr},
		{name: "http addr without port", changes: map[string]string{contract.EnvHTTPAddr: "8080"}, wantVar: contract.EnvHTTPAddr},
		{name: "mode missing", changes: map[string]string{contract.EnvRedisMode: ""}, wantVar: contract.EnvRedisMode},
		{name: "mode unknown", changes: map[string]string{contract.EnvRedisMode: "replica"}, wantVar: contract.EnvRedisMode},
		{name: "standalone addr missing", changes: map[string]string{contract.EnvRedisAddr: ""}, wantVar: contract.EnvRedisAddr},
		{name: "standalone addr without port", changes: map[string]string{contract.EnvRedisAddr: "redis"}, wantVar: contract.EnvRedisAddr},
		{name: "sentinel addrs missing", base: sentinel, changes: map[string]string{contract.EnvRedisAddrs: ""}, wantVar: contract.EnvRedisAddrs},
		{name: "sentinel addrs with empty entry", base: sentinel, changes: map[string]string{contract.EnvRedisAddrs: "a:1,,b:2"}, wantVar: contract.EnvRedisAddrs},
		{name: "sentinel master name missing", base: sentinel, changes: map[string]string{contract.EnvRedisMasterName: ""}, wantVar: contract.EnvRedisMasterName},
		{name: "cluster addrs missing", base: cluster, changes: map[string]string{contract.EnvRedisAddrs: ""}, wantVar: contract.EnvRedisAddrs},
		{name: "cluster addr without port", base: cluster, changes: map[string]string{contract.EnvRedisAddrs: "n-0:6379,n-1"}, wantVar: contract.EnvRedisAddrs},
		{name: "cluster database other than 0", base: cluster, changes: map[string]string{contract.EnvRedisDB: "1"}, wantVar: contract.EnvRedisDB},
		{name: "db not a number", changes: map[string]string{contract.EnvRedisDB: "x"}, wantVar: contract.EnvRedisDB},
		{name: "db negative", changes: map[string]string{contract.EnvRedisDB: "-1"}, wantVar: contract.EnvRedisDB},
		{name: "tls not a boolean", changes: map[string]string{contract.EnvRedisTLS: "1"}, wantVar: contract.EnvRedisTLS},
		{name: "insecure skip verify missing with TLS on", changes: map[string]string{contract.EnvRedisTLS: "true"}, wantVar: contract.EnvRedisTLSInsecureSkipVerify},
		{name: "insecure skip verify malformed with TLS off", changes: map[string]string{contract.EnvRedisTLSInsecureSkipVerify: "no"}, wantVar: contract.EnvRedisTLSInsecureSkipVerify},
		{name: "ca cert not PEM", changes: map[string]string{
			contract.EnvRedisTLS: "true", contract.EnvRedisTLSInsecureSkipVerify: "false", contract.EnvRedisTLSCACert: "not a certificate",
		}, wantVar: contract.EnvRedisTLSCACert},
		{name: "pool size zero", changes: map[string]string{contract.EnvRedisPoolSize: "0"}, wantVar: contract.EnvRedisPoolSize},
		{name: "pool size not a number", changes: map[string]string{contract.EnvRedisPoolSize: "ten"}, wantVar: contract.EnvRedisPoolSize},
		{name: "min idle negative", changes: map[string]string{contract.EnvRedisMinIdleConns: "-1"}, wantVar: contract.EnvRedisMinIdleConns},
		{name: "min idle over pool size", changes: map[string]string{contract.EnvRedisMinIdleConns: "11"}, wantVar: contract.EnvRedisMinIdleConns},
		{name: "dial timeout zero", changes: map[string]string{contract.EnvRedisDialTimeout: "0s"}, wantVar: contract.EnvRedisDialTimeout},
		{name: "read timeout malformed", changes: map[string]string{contract.EnvRedisReadTimeout: "fast"}, wantVar: contract.EnvRedisReadTimeout},
		{name: "write timeout missing", changes: map[string]string{contract.EnvRedisWriteTimeout: ""}, wantVar: contract.EnvRedisWriteTimeout},
		{name: "pool timeout negative", changes: map[string]string{contract.EnvRedisPoolTimeout: "-3s"}, wantVar: contract.EnvRedisPoolTimeout},
		{name: "conn max idle time zero", changes: map[string]string{contract.EnvRedisConnMaxIdleTime: "0"}, wantVar: contract.EnvRedisConnMaxIdleTime},
		{name: "max retries negative", changes: map[string]string{contract.EnvRedisMaxRetries: "-1"}, wantVar: contract.EnvRedisMaxRetries},
		{name: "max retries not a number", changes: map[string]string{contract.EnvRedisMaxRetries: "3.5"}, wantVar: contract.EnvRedisMaxRetries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base
			if base == nil {
				base = standaloneEnv()
			}
			if _, err := LoadConfig(getenv(base)); err != nil {
				t.Fatalf("the base environment is invalid: %v", err)
			}
			_, err := LoadConfig(getenv(with(base, tt.changes)))
			if err == nil {
				t.Fatalf("LoadConfig succeeded, want an error naming %s", tt.wantVar)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("error = %q, want %q", err, tt.wantMsg)
			}
			for _, v := range allVars {
				named := strings.Contains(err.Error(), v+":")
				if v == tt.wantVar && !named {
					t.Errorf("error %q does not name %s", err, v)
				}
				if v != tt.wantVar && named {
					t.Errorf("error %q names %s too, want only %s", err, v, tt.wantVar)
				}
			}
		})
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	env := with(standaloneEnv(), map[string]string{
		contract.EnvConcurrency:       "abc",
		contract.EnvShutdownTimeout:   "",
		contract.EnvRedisPoolSize:     "0",
		contract.EnvRedisAddr:         "",
		contract.EnvRedisTLS:          "ture",
		contract.EnvRedisMinIdleConns: "-2",
	})
	_, err := LoadConfig(getenv(env))
	if err == nil {
		t.Fatal("LoadConfig succeeded")
	}
	for _, v := range []string{
		contract.EnvConcurrency, contract.EnvShutdownTimeout, contract.EnvRedisPoolSize,
		contract.EnvRedisAddr, contract.EnvRedisTLS, contract.EnvRedisMinIdleConns,
	} {
		if !strings.Contains(err.Error(), v+":") {
			t.Errorf("error does not name %s:\n%v", v, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
		t.Errorf("error has %d lines, want one per bad variable (6):\n%v", n, err)
	}
}

func TestLoadRedisConfigNeedsOnlyRedisVariables(t *testing.T) {
	env := standaloneEnv()
	for _, v := range []string{
		contract.EnvQueues, contract.EnvConcurrency, contract.EnvStrictPriority,
		contract.EnvShutdownTimeout, contract.EnvHealthCheckInterval, contract.EnvHTTPAddr,
	} {
		delete(env, v)
	}
	got, err := LoadRedisConfig(getenv(env))
	if err != nil {
		t.Fatalf("LoadRedisConfig: %v", err)
	}
	if want := standaloneConfig().Redis; !reflect.DeepEqual(got, want) {
		t.Errorf("LoadRedisConfig:\n got %+v\nwant %+v", got, want)
	}
}

func TestRedisConfigHidesPassword(t *testing.T) {
	cfg := standaloneConfig()
	cfg.Redis.Password = "s3cret-value"
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "redis", cfg.Redis)
	for name, text := range map[string]string{
		"String":   cfg.Redis.String(),
		"%v":       fmt.Sprintf("%v", cfg),
		"%+v":      fmt.Sprintf("%+v", cfg),
		"LogValue": logged.String(),
	} {
		if strings.Contains(text, "s3cret-value") {
			t.Errorf("%s shows the password: %s", name, text)
		}
		if !strings.Contains(text, "redacted") {
			t.Errorf("%s does not say the password is hidden: %s", name, text)
		}
	}
}
