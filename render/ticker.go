package render

import "time"

// Ticker calls tick every interval until stop is called; stop returns
// once no tick is running or will run. Redraws of the live area, and the
// held-back status lines of plain and json, happen on ticks only, so a
// test that passes its own Ticker decides when they happen instead of
// sleeping.
type Ticker func(every time.Duration, tick func()) (stop func())

// timeTicker is the Ticker of a real run: a time.Ticker on a goroutine.
func timeTicker(every time.Duration, tick func()) func() {
	t := time.NewTicker(every)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				tick()
			}
		}
	}()
	return func() {
		t.Stop()
		close(quit)
		<-done
	}
}
