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

package redisconf

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// parseConf reads a config file the way redis-server 7.0 does
// (loadServerConfigFromString): it splits the text on "\n", trims " \t\r\n"
// from each line, skips empty lines and lines starting with '#', splits the
// rest with sdssplitargs and lower-cases the key. It returns the arguments
// of each directive line, key first. Tests judge rendered files by what
// Redis would read from them, not by how they look.
func parseConf(conf []byte) ([][]string, error) {
	s := string(conf)
	// redis-server reads the file with fgets and sdscat, so a NUL byte
	// silently drops the rest of its chunk.
	if strings.IndexByte(s, 0) >= 0 {
		return nil, errors.New("NUL byte in the file")
	}
	var out [][]string
	for i, line := range strings.Split(s, "\n") {
		line = strings.Trim(line, " \t\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		args, err := splitArgs(line)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", i+1, line, err)
		}
		if len(args) == 0 {
			continue
		}
		args[0] = strings.ToLower(args[0])
		out = append(out, args)
	}
	return out, nil
}

// splitArgs is Redis's sdssplitargs: arguments separated by blanks, in
// double quotes (with \xHH, \n, \r, \t, \b, \a and \<char> escapes), in
// single quotes (with \' only) or bare. A closing quote must be followed by
// a blank or the end of the line.
func splitArgs(line string) ([]string, error) {
	isSpace := func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
	isHex := func(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }
	hexVal := func(c byte) byte {
		switch {
		case c >= '0' && c <= '9':
			return c - '0'
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10
		}
		return c - 'A' + 10
	}
	at := func(i int) byte { // the C string's byte i, 0 past the end
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	var args []string
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return args, nil
		}
		var cur []byte
		inq, insq, done := false, false, false
		for !done {
			c := at(p)
			switch {
			case inq:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
					cur = append(cur, hexVal(at(p+2))<<4|hexVal(at(p+3)))
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					e := at(p)
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					cur = append(cur, e)
				case c == '"':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return nil, errors.New("closing quote not followed by a blank")
					}
					done = true
				case c == 0:
					return nil, errors.New("unbalanced double quotes")
				default:
					cur = append(cur, c)
				}
			case insq:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					cur = append(cur, '\'')
				case c == '\'':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return nil, errors.New("closing quote not followed by a blank")
					}
					done = true
				case c == 0:
					return nil, errors.New("unbalanced single quotes")
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, c)
				}
			}
			if p < len(line) {
				p++
			}
		}
		args = append(args, string(cur))
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		line    string
		want    []string
		wantErr bool
	}{
		{line: `save ""`, want: []string{"save", ""}},
		{line: `dir "/a b \"c\" \\ \x41\n"`, want: []string{"dir", "/a b \"c\" \\ A\n"}},
		{line: `key 'it\'s' x`, want: []string{"key", "it's", "x"}},
		{line: "a\tb  c", want: []string{"a", "b", "c"}},
		{line: `a"b c" d`, want: []string{"ab c", "d"}},
		{line: `a "b"c`, wantErr: true},
		{line: `a "b`, wantErr: true},
		{line: `a 'b`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := splitArgs(tt.line)
		if (err != nil) != tt.wantErr {
			t.Errorf("splitArgs(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitArgs(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}
