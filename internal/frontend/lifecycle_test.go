package frontend

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"
)

func TestLifecycleTrack(t *testing.T) {
	var l Lifecycle[int]
	for _, c := range []int{1, 2, 3} {
		if !l.Track(c) {
			t.Fatalf("Track(%d) refused before Stop", c)
		}
	}
	l.Untrack(2)
	var stopped []int
	l.Stop(func(c int) { stopped = append(stopped, c) })
	slices.Sort(stopped)
	if !slices.Equal(stopped, []int{1, 3}) {
		t.Fatalf("Stop saw %v, want [1 3]", stopped)
	}
	if l.Track(4) {
		t.Fatal("Track accepted a connection after Stop")
	}
	var each []int
	l.Each(func(c int) { each = append(each, c) })
	if slices.Contains(each, 4) || len(each) != 2 {
		t.Fatalf("Each saw %v after Stop", each)
	}
}

func TestLifecycleAddrs(t *testing.T) {
	var l Lifecycle[int]
	if got := l.Addrs(); len(got) != 0 {
		t.Fatalf("Addrs before SetAddrs = %v", got)
	}
	a := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 853}
	l.SetAddrs([]net.Addr{a})
	got := l.Addrs()
	if len(got) != 1 || got[0].String() != "127.0.0.1:853" {
		t.Fatalf("Addrs = %v", got)
	}
	got[0] = nil
	if l.Addrs()[0] == nil {
		t.Fatal("Addrs returned the internal slice")
	}
}

func TestLifecycleWait(t *testing.T) {
	t.Run("done", func(t *testing.T) {
		var l Lifecycle[int]
		forced := false
		if err := l.Wait(context.Background(), func() { forced = true }); err != nil || forced {
			t.Fatalf("err = %v, forced = %v", err, forced)
		}
	})
	t.Run("ctx ends first", func(t *testing.T) {
		var l Lifecycle[int]
		release := make(chan struct{})
		l.WG.Go(func() { <-release })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		forced := false
		err := l.Wait(ctx, func() { forced = true; close(release) })
		if !errors.Is(err, context.DeadlineExceeded) || !forced {
			t.Fatalf("err = %v, forced = %v", err, forced)
		}
	})
}
