package keygen

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// maxPoolSize bounds each spec's queue: pooled private keys sit in memory,
// and a few dozen already absorb a burst of RSA enrollments.
const maxPoolSize = 256

// retryAfterError is how long Run waits after a failed generation (only a
// broken random source makes key generation fail).
const retryAfterError = time.Second

// Pool keeps up to a fixed number of pre-generated keys per spec, so that an
// enrollment does not wait for RSA key generation. Run fills it in the
// background, one key at a time, round-robin over the specs; Get takes a
// pooled key or generates one inline. Every key is handed out at most once.
type Pool struct {
	rand   io.Reader
	queues map[string]*poolQueue // by Spec.String()
	order  []*poolQueue
	wake   chan struct{} // a key was taken: Run may refill
	hits   atomic.Uint64
	misses atomic.Uint64
}

type poolQueue struct {
	spec Spec
	keys chan crypto.Signer
}

// NewPool returns a pool holding up to sizes[spec] keys of each spec (1 to
// 256). It holds no keys until Run runs.
func NewPool(rand io.Reader, sizes map[Spec]int) (*Pool, error) {
	p := &Pool{rand: rand, queues: map[string]*poolQueue{}, wake: make(chan struct{}, 1)}
	for s, n := range sizes {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("keygen: pool spec %v: %w", s, err)
		}
		if n < 1 || n > maxPoolSize {
			return nil, fmt.Errorf("keygen: pool size %d for %v is not between 1 and %d", n, s, maxPoolSize)
		}
		if _, dup := p.queues[s.String()]; dup {
			return nil, fmt.Errorf("keygen: pool spec %v given twice", s)
		}
		q := &poolQueue{spec: s, keys: make(chan crypto.Signer, n)}
		p.queues[s.String()] = q
		p.order = append(p.order, q)
	}
	return p, nil
}

// Run fills the pool until ctx is done, then returns. Call it once, in its
// own goroutine. It generates one key at a time so that background filling
// takes at most one core from request handling.
func (p *Pool) Run(ctx context.Context) {
	for {
		added := false
		for _, q := range p.order {
			if len(q.keys) == cap(q.keys) {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			k, err := Generate(p.rand, q.spec)
			if err != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(retryAfterError):
				}
				continue
			}
			select {
			case q.keys <- k:
				added = true
			default: // filled meanwhile by a recycled key
			}
		}
		if !added {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
			}
		}
	}
}

// Get returns a key for s: a pooled one when available, otherwise one
// generated inline. While generating inline it also takes a pooled key that
// becomes available first. When ctx ends before a key is ready, Get returns
// ctx's error; the key still being generated is then put in the pool (when s
// is pooled and there is room) rather than wasted.
func (p *Pool) Get(ctx context.Context, s Spec) (crypto.Signer, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	q := p.queues[s.String()]
	var pooled chan crypto.Signer // nil (never ready) when s is not pooled
	if q != nil {
		pooled = q.keys
		select {
		case k := <-pooled:
			p.hits.Add(1)
			p.signal()
			return k, nil
		default:
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.misses.Add(1)
	type result struct {
		key crypto.Signer
		err error
	}
	res := make(chan result, 1)
	go func() {
		k, err := Generate(p.rand, s)
		res <- result{k, err}
	}()
	recycle := func() {
		r := <-res
		if r.err == nil && q != nil {
			select {
			case q.keys <- r.key:
			default:
			}
		}
	}
	select {
	case r := <-res:
		return r.key, r.err
	case k := <-pooled:
		p.signal()
		go recycle()
		return k, nil
	case <-ctx.Done():
		go recycle()
		return nil, ctx.Err()
	}
}

func (p *Pool) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Len returns how many keys of s the pool holds now.
func (p *Pool) Len(s Spec) int {
	if q := p.queues[s.String()]; q != nil {
		return len(q.keys)
	}
	return 0
}

// Stats returns how many Get calls were served from the pool (hits) and how
// many started an inline generation (misses), for metrics.
func (p *Pool) Stats() (hits, misses uint64) {
	return p.hits.Load(), p.misses.Load()
}
