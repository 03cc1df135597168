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

package controllers

import (
	"slices"
	"testing"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/redisadmin"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
)

func TestFormatMaxMemory(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "unlimited"},
		{"1", "1"},
		{"104857600", "100Mi"},
		{"536870912", "512Mi"},
		{"2000000000", "2G"},
		{"1500000000", "1500M"},
		{"garbage", "garbage"},
	}
	for _, tt := range tests {
		if got := formatMaxMemory(tt.in); got != tt.want {
			t.Errorf("formatMaxMemory(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPersistenceOf(t *testing.T) {
	tests := []struct{ appendonly, fsync, save, want string }{
		{"yes", "everysec", "", "aof everysec"},
		{"yes", "always", "3600 1", "aof always + rdb"},
		{"no", "everysec", "3600 1 300 100", "rdb"},
		{"no", "everysec", "", "off"},
		{"yes", "", "", "aof"},
	}
	for _, tt := range tests {
		if got := persistenceOf(tt.appendonly, tt.fsync, tt.save); got != tt.want {
			t.Errorf("persistenceOf(%q, %q, %q) = %q, want %q", tt.appendonly, tt.fsync, tt.save, got, tt.want)
		}
	}
}

// TestServerInForce: the in-force summary of a cluster whose nodes agree
// on some keys and differ on others; a node that did not report a key
// leaves it out.
func TestServerInForce(t *testing.T) {
	values := []redisadmin.Value{
		{Node: "a:7000", Key: "appendonly", Value: "no"},
		{Node: "a:7000", Key: "maxmemory", Value: "104857600"},
		{Node: "a:7000", Key: "maxmemory-policy", Value: "allkeys-lru"},
		{Node: "a:7000", Key: "save", Value: "3600 1"},
		{Node: "b:7000", Key: "appendonly", Value: "yes"},
		{Node: "b:7000", Key: "appendfsync", Value: "everysec"},
		{Node: "b:7000", Key: "maxmemory", Value: "104857600"},
		{Node: "b:7000", Key: "maxmemory-policy", Value: "noeviction"},
		{Node: "b:7000", Key: "save", Value: ""},
		{Node: "c:7000", Key: "maxmemory", Value: "104857600"}, // the rest unreadable
	}
	got := serverInForce(values)
	want := inForce{maxMemory: "100Mi", policy: "allkeys-lru,noeviction", persistence: "aof everysec,rdb"}
	if *got != want {
		t.Errorf("serverInForce = %+v, want %+v", *got, want)
	}
}

// TestServerConfigListsUnsetKeysOfEveryNode: status.serverConfig holds the
// unset typed keys of every node, in node and key order, and none of the
// keys the spec sets.
func TestServerConfigListsUnsetKeysOfEveryNode(t *testing.T) {
	ds := []redisconf.Directive{{Key: "maxmemory", Value: "1"}, {Key: "hz", Value: "10"}}
	observe := unsetTypedKeys(ds)
	if slices.Contains(observe, "maxmemory") || slices.Contains(observe, "hz") || len(observe) != len(redisconf.TypedKeys())-1 {
		t.Fatalf("unsetTypedKeys = %q, want every typed key but maxmemory", observe)
	}
	values := []redisadmin.Value{
		{Node: "a:7000", Key: "maxmemory", Value: "1"},
		{Node: "a:7000", Key: "save", Value: ""},
		{Node: "b:7000", Key: "maxmemory", Value: "1"},
		{Node: "b:7000", Key: "save", Value: "60 1"},
	}
	want := []queueworkerv1alpha1.ServerSetting{
		{Node: "a:7000", Key: "save", Value: ""},
		{Node: "b:7000", Key: "save", Value: "60 1"},
	}
	if got := serverConfig(values, observe); !slices.Equal(got, want) {
		t.Errorf("serverConfig = %+v, want %+v", got, want)
	}
}
