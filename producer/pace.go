package producer

import "time"

// pacer is a token bucket: rate tokens per second, at most burst banked.
// A reservation may overdraw the bucket; the caller then waits until the
// debt is paid, so the long-run rate never exceeds rate and no window of one
// second carries more than burst + rate tokens.
type pacer struct {
	rate   float64 // tokens per second; <= 0 means unlimited
	burst  float64
	tokens float64
	last   time.Time
}

func newPacer(rate, burst float64) *pacer {
	return &pacer{rate: rate, burst: burst, tokens: burst}
}

// reserve takes n tokens at time now and returns how long the caller must
// wait before using them.
func (p *pacer) reserve(n float64, now time.Time) time.Duration {
	if p.rate <= 0 {
		return 0
	}
	if !p.last.IsZero() {
		if el := now.Sub(p.last); el > 0 {
			p.tokens = min(p.burst, p.tokens+el.Seconds()*p.rate)
		}
	}
	p.last = now
	p.tokens -= n
	if p.tokens >= 0 {
		return 0
	}
	return time.Duration(-p.tokens / p.rate * float64(time.Second))
}
