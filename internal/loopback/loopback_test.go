package loopback

import (
	"net/url"
	"testing"
)

func TestIsHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"", false},
		{"0.0.0.0", false},
		{"10.0.0.1", false},
		{"::", false},
		{"localhost.example.com", false},
		{"LOCALHOST", false}, // hostnames are matched as written; only "localhost" is trusted
		{"[::1]", false},     // a host, not a bracketed address
	}
	for _, tt := range tests {
		if got := IsHost(tt.host); got != tt.want {
			t.Errorf("IsHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestInClear(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://cms.example.com/hook":  true,
		"http://10.0.0.5:8080/":        true,
		"https://cms.example.com/hook": false,
		"http://127.0.0.1:9/hook":      false,
		"http://localhost/v1/":         false,
		"http://[::1]:9/":              false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := InClear(u); got != want {
			t.Errorf("InClear(%s) = %v, want %v", raw, got, want)
		}
	}
}
