package keygen

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"
)

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runPool starts p.Run and returns a function that stops it and waits until
// Run has returned.
func runPool(t *testing.T, p *Pool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		p.Run(ctx)
		close(done)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context was cancelled")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestNewPool_Rejected(t *testing.T) {
	tests := []struct {
		name  string
		sizes map[Spec]int
	}{
		{"invalid spec", map[Spec]int{{Algorithm: RSA, Bits: 1024}: 1}},
		{"zero size", map[Spec]int{Ed25519Key: 0}},
		{"negative size", map[Spec]int{Ed25519Key: -1}},
		{"too large", map[Spec]int{Ed25519Key: maxPoolSize + 1}},
	}
	for _, tt := range tests {
		if _, err := NewPool(rand.Reader, tt.sizes); err == nil {
			t.Errorf("%s: NewPool succeeded", tt.name)
		}
	}
}

func TestPool_FillsToCapacityAndServesHits(t *testing.T) {
	p, err := NewPool(rand.Reader, map[Spec]int{Ed25519Key: 3, ECCP256: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Len(Ed25519Key) != 0 {
		t.Fatal("pool holds keys before Run")
	}
	stop := runPool(t, p)
	waitFor(t, "the pool to fill", func() bool { return p.Len(Ed25519Key) == 3 && p.Len(ECCP256) == 2 })

	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		k, err := p.Get(context.Background(), Ed25519Key)
		if err != nil {
			t.Fatal(err)
		}
		pub, ok := k.Public().(ed25519.PublicKey)
		if !ok {
			t.Fatalf("Get(Ed25519) returned %T", k)
		}
		if seen[string(pub)] {
			t.Fatal("the pool handed out the same key twice")
		}
		seen[string(pub)] = true
	}
	k, err := p.Get(context.Background(), ECCP256)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := k.Public().(*ecdsa.PublicKey); !ok || pub.Curve.Params().Name != "P-256" {
		t.Fatalf("Get(P-256) returned %T", k)
	}
	if hits, misses := p.Stats(); hits != 4 || misses != 0 {
		t.Errorf("Stats = %d hits, %d misses; want 4, 0", hits, misses)
	}
	// Taking keys wakes Run, which refills up to capacity and no further.
	waitFor(t, "the pool to refill", func() bool { return p.Len(Ed25519Key) == 3 && p.Len(ECCP256) == 2 })
	stop()
	if p.Len(Ed25519Key) != 3 || p.Len(ECCP256) != 2 {
		t.Errorf("pool holds %d and %d keys; capacity is 3 and 2", p.Len(Ed25519Key), p.Len(ECCP256))
	}
}

func TestPool_GetMissGeneratesInline(t *testing.T) {
	p, err := NewPool(rand.Reader, map[Spec]int{Ed25519Key: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Not pooled, and Run is not running: both are generated inline.
	for _, s := range []Spec{ECCP384, Ed25519Key} {
		k, err := p.Get(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := SpecOf(k.Public())
		if err != nil || got.String() != s.String() {
			t.Errorf("Get(%s) returned a %s key (%v)", s, got, err)
		}
	}
	if hits, misses := p.Stats(); hits != 0 || misses != 2 {
		t.Errorf("Stats = %d hits, %d misses; want 0, 2", hits, misses)
	}
	if _, err := p.Get(context.Background(), Spec{Algorithm: RSA, Bits: 1000}); err == nil {
		t.Error("Get with an invalid spec succeeded")
	}
}

func TestPool_GetHonoursContext(t *testing.T) {
	p, err := NewPool(rand.Reader, map[Spec]int{RSA2048: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Get(ctx, RSA2048); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context = %v, want context.Canceled", err)
	}
	if _, misses := p.Stats(); misses != 0 {
		t.Errorf("a cancelled Get started a generation")
	}

	// A deadline that ends during an inline RSA generation: Get returns at
	// the deadline, and the key generated meanwhile lands in the pool.
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Get(ctx, RSA2048)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Skipf("RSA-2048 generated within 1 ms (err %v); cannot observe the deadline", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Get returned %v after its deadline", d)
	}
	waitFor(t, "the abandoned key to be pooled", func() bool { return p.Len(RSA2048) == 1 })
	k, err := p.Get(context.Background(), RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := k.Public().(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 {
		t.Errorf("recycled key is %T", k)
	}
	if hits, _ := p.Stats(); hits != 1 {
		t.Errorf("hits = %d, want 1 (the recycled key)", hits)
	}
}

func TestPool_RunStopsWhenIdle(t *testing.T) {
	p, err := NewPool(rand.Reader, map[Spec]int{Ed25519Key: 1})
	if err != nil {
		t.Fatal(err)
	}
	stop := runPool(t, p)
	waitFor(t, "the pool to fill", func() bool { return p.Len(Ed25519Key) == 1 })
	stop() // fails the test if Run, now waiting for a Get, does not return
}
