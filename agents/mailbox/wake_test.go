package mailbox

import (
	"sync"
	"testing"
)

// TestWakeHoldsTheWatchUntilCalled: with Options.Wake a Watch is woken
// when the lab says, not when the event is queued.
func TestWakeHoldsTheWatchUntilCalled(t *testing.T) {
	var mu sync.Mutex
	var held []func()
	s := fixedStore(t, Options{NoSync: true, Wake: func(wake func()) {
		mu.Lock()
		defer mu.Unlock()
		held = append(held, wake)
	}})
	u := newUser(t, s, "bob@b.test")
	inbox, _ := u.Folder("INBOX")
	w, err := inbox.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	deliver(t, s, "bob@b.test", 1)
	select {
	case <-w.Ready():
		t.Fatal("the Watch woke before Wake's function was called")
	default:
	}
	mu.Lock()
	wakes := held
	held = nil
	mu.Unlock()
	if len(wakes) != 1 {
		t.Fatalf("Wake called %d times, want 1", len(wakes))
	}
	wakes[0]()
	wakes[0]() // twice is once, and never blocks
	<-w.Ready()
	if got := evString(w.Events()); got != "new 1" {
		t.Errorf("Watch got %q", got)
	}
}
