package workflow

import "testing"

// Webhook URLs often carry a token; log lines and stored errors must not.
func TestRedactURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://hooks.example.com/notify?token=s3cr3t", "https://hooks.example.com/notify?REDACTED"},
		{"https://user:pw@hooks.example.com/x", "https://hooks.example.com/x"},
		{"https://hooks.example.com/x#frag-secret", "https://hooks.example.com/x"},
		{"http://127.0.0.1:9/plain", "http://127.0.0.1:9/plain"},
		{"://bad", "(unparsable URL)"},
	}
	for _, tc := range cases {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
