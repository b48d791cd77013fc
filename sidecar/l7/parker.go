//go:build linux

package l7

import (
	"errors"
	"sync"
	"syscall"
	"time"
)

// ParkAfter is how long a keep-alive connection waits for its next request
// on its own goroutine before it is parked.
const ParkAfter = 2 * time.Second

// Parker holds idle keep-alive connections without a goroutine each: a
// connection quiet for ParkAfter is handed to the parker, its goroutine
// exits (so no stack stays pinned), and one epoll loop starts a new
// goroutine when the client sends again. It also closes connections that
// stay parked past their listener's stream idle timeout.
//
// A Parker is safe for concurrent use. Close stops it: it closes the
// connections still parked and waits for the goroutines it started.
type Parker struct {
	// After is how long a connection waits on its goroutine before it is
	// parked; NewParker sets ParkAfter.
	After   time.Duration
	epfd    int
	wakeR   int // read end of a pipe that interrupts epoll_wait on Close
	wakeW   int
	mu      sync.Mutex
	parked  map[int32]*session
	closed  bool
	trim    trimmer
	loop    sync.WaitGroup
	resumed sync.WaitGroup
}

// NewParker starts a parker.
func NewParker() (*Parker, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(pipe[0])}
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(fd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil, err
	}
	p := &Parker{After: ParkAfter, epfd: fd, wakeR: pipe[0], wakeW: pipe[1], parked: map[int32]*session{}}
	p.loop.Add(1)
	go p.run()
	return p, nil
}

// park registers s, which must be in stateParked with nothing buffered;
// false means it was not registered, because the parker is closed or s
// is being closed. The state is checked under the lock that take holds,
// so a session closed concurrently is never registered after its close.
func (p *Parker) park(s *session) bool {
	fd := s.fd
	if fd < 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || s.state.Load() != stateParked {
		return false
	}
	now := time.Now()
	s.parkedAt = now.Add(-p.After)
	p.parked[fd] = s
	p.trim.park(now)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollOneShot, Fd: fd}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		delete(p.parked, fd)
		return false
	}
	return true
}

// epollOneShot is EPOLLONESHOT, which package syscall declares as an
// untyped constant of the wrong sign for EpollEvent.Events.
const epollOneShot = 1 << 30

// take removes fd from the parked set and returns its session.
func (p *Parker) take(fd int32) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.parked[fd]
	if s != nil {
		delete(p.parked, fd)
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	}
	return s
}

// run waits for parked connections to become readable, and once a second
// closes those idle for too long.
func (p *Parker) run() {
	defer p.loop.Done()
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, 1000)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if s := p.take(ev.Fd); s != nil {
				p.wake(s)
			}
		}
		if p.sweep() {
			return
		}
	}
}

// wake resumes s on a new goroutine, unless it is being closed.
func (p *Parker) wake(s *session) {
	if !s.state.CompareAndSwap(stateParked, stateBusy) {
		return
	}
	p.resumed.Add(1)
	go func() {
		defer p.resumed.Done()
		s.resume()
	}()
}

// sweep closes sessions parked past their idle timeout, if they have one. It reports
// whether the parker is closed.
func (p *Parker) sweep() bool {
	now := time.Now()
	p.mu.Lock()
	closed := p.closed
	var expired []*session
	for fd, s := range p.parked {
		idle := s.srv.cfg.Load().StreamIdle // 0: no idle timeout
		if closed || (idle > 0 && now.Sub(s.parkedAt) >= idle) {
			expired = append(expired, s)
			delete(p.parked, fd)
			syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		}
	}
	trim := p.trim.due(now)
	p.mu.Unlock()
	if trim {
		go trimHeap()
	}
	for _, s := range expired {
		if s.state.CompareAndSwap(stateParked, stateClosing) {
			s.finish()
		}
	}
	return closed
}

// unpark removes s from the parked set, if it is there.
func (p *Parker) unpark(s *session) {
	if s.fd >= 0 {
		p.take(s.fd)
	}
}

// Close closes every parked connection and waits for the goroutines the
// parker started.
func (p *Parker) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	syscall.Write(p.wakeW, []byte{1})
	p.loop.Wait()
	syscall.Close(p.epfd)
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
	p.resumed.Wait()
}
