"""Where the bytes go: a pseudo-terminal, a TCP server, or a stream (stdout or
a file).  Every sink offers the same small interface:

  fds() / handle(fd, revents)   what to poll and what to do on events
  has_reader()                  is anybody there to receive a telegram?
  send(data) -> dict            hand over one telegram; says what happened
  backlog()                     bytes queued but not yet taken by the reader
  hang_up() / come_back()       simulate the line going away (returns
                                whether every byte written was taken) and
                                coming back; disconnect() does both
  close(linger)                 give readers up to `linger` s to take what is
                                queued, then clean up (returns the same)

Nothing here ever blocks without a time limit, so a reader that stops
reading can neither deadlock the simulator nor make it use unbounded memory.
"""

import contextlib
import fcntl
import math
import os
import select
import signal
import socket
import struct
import sys
import termios
import time
import tty

_POLLHUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


def log(msg):
    sys.stderr.write("dsmr-sim: %s\n" % msg)
    sys.stderr.flush()


def announce(msg):
    """Lines a test waits for ('listening on ...', 'pty ...') go to stdout."""
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGTERM/SIGINT/SIGHUP for the duration of a short critical step
    (creating a symlink, writing a manifest line), so the clean-up that the
    signal triggers never finds a half-made state.  They are delivered when
    the step ends."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class ConsumerGone(Exception):
    """The stream we write to was closed by its reader (EPIPE)."""


class StreamSink:
    """stdout or a file: every byte is written, blocking (a pipe's reader sets
    the pace, which is what `dsmr-sim --rate 0 | dsmr-cat` wants)."""

    kind = "stream"
    port = None
    can_disconnect = False

    def __init__(self, path=None):
        if path is None:
            self.fd = sys.stdout.fileno()
            self.own = False
        else:
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            self.own = True

    def fds(self):
        return ()

    def handle(self, fd, revents):
        pass

    def has_reader(self):
        return True

    def backlog(self):
        return 0

    def send(self, data):
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                select.select([], [self.fd], [], 1.0)
                continue
            except BrokenPipeError:
                raise ConsumerGone() from None
            view = view[n:]
        return {"delivered": True}

    def disconnect(self):
        pass

    def close(self, linger=0.0):
        if self.own:
            os.close(self.fd)
            self.own = False
        return True


def _set_line(fd, baud, frame):
    """Serial settings on the pty as the real port has them (a pty carries
    bytes regardless; a reader that checks or keeps them sees these)."""
    attrs = termios.tcgetattr(fd)
    cflag = attrs[2] & ~(termios.CSIZE | termios.PARENB | termios.PARODD | termios.CSTOPB)
    cflag |= termios.CS8 if frame[0] == "8" else termios.CS7
    if frame[1] in "EO":
        cflag |= termios.PARENB | (termios.PARODD if frame[1] == "O" else 0)
    if frame[2] == "2":
        cflag |= termios.CSTOPB
    attrs[2] = cflag
    speed = getattr(termios, "B%d" % baud)
    attrs[4] = attrs[5] = speed
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class PtySink:
    """A pseudo-terminal whose slave is reached through a symlink.

    Reader detection: the master reports POLLHUP while no process has the
    slave open.  We never keep the slave open ourselves, so:
      - with no reader, telegrams are not written at all (a real meter's bytes
        are lost too) and send() says delivered=False;
      - if a reader leaves with unread bytes in the tty buffer, we flush them
        before the next reader comes, so it never sees stale telegrams;
      - writes are non-blocking; when a present reader does not read, a
        telegram is abandoned after `stall` seconds (delivered=False), and
        until the reader reads again, telegrams that do not fit in the tty
        buffer are dropped at once (a cut one is "partial" in the manifest).
        Bytes already in the buffer stay there: "delivered" means handed to
        the tty while a reader had it open;
      - before the pty is closed (a disconnect, the end) we wait until the
        reader has read every byte (see _slave_inq: the kernel's flip
        buffer included), because the hang-up destroys unread bytes; a
        telegram that dies anyway is reported (hang_up() returns False).
    """

    kind = "pty"
    port = None
    can_disconnect = True

    def __init__(self, path, pause=2.0, stall=5.0, line=None):
        self.path = os.path.abspath(path)
        self.line = line  # None, or (baud, "8E1"/"8N1") set on the slave
        self.shown_path = path  # announced as given, so a test can match it
        self.pause = pause
        self.stall = stall
        self.master = None
        self.slave_name = None
        self.dirty = False  # bytes may sit unread in the slave's buffer
        self.stalled = False  # a present reader stopped reading
        self.ptys_created = 0
        if os.path.lexists(self.path) and not os.path.islink(self.path):
            raise ValueError("%s exists and is not a symlink; refusing to replace it" % self.path)
        self._open()

    def _open(self):
        master, slave = os.openpty()
        try:
            # Raw on the slave is what matters: a reader that opens it before
            # setting its own modes must not get CR->NL translation or echo.
            tty.setraw(slave)
            tty.setraw(master)
            if self.line:
                _set_line(slave, *self.line)
            name = os.ttyname(slave)
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        fcntl.fcntl(master, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        self.master = master
        self.slave_name = name
        self.dirty = False
        self.stalled = False
        tmp = "%s.dsmr-sim-%d" % (self.path, os.getpid())
        with signals_deferred():
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(name, tmp)
            os.replace(tmp, self.path)  # atomic: readers never see a missing link
        self.ptys_created += 1
        announce("pty %s -> %s" % (self.shown_path, name))

    def _unlink(self):
        try:
            if os.path.islink(self.path) and os.readlink(self.path) == self.slave_name:
                os.unlink(self.path)
        except OSError:
            pass

    def has_reader(self):
        if self.master is None:
            return False
        p = select.poll()
        p.register(self.master, select.POLLIN)
        for _fd, rev in p.poll(0):
            if rev & _POLLHUP:
                return False
        return True

    def fds(self):
        # Only while a reader is there: without one the master reports POLLHUP
        # constantly and a poll loop would spin.
        if self.has_reader():
            return ((self.master, select.POLLIN),)
        return ()

    def handle(self, fd, revents):
        if revents & select.POLLIN:
            self._drain()

    def _drain(self):
        """Discard whatever the reader wrote to the slave (we are a meter: we
        do not listen), so that direction can never fill up."""
        while True:
            try:
                if not os.read(self.master, 4096):
                    return
            except (BlockingIOError, OSError):
                return

    def _slave_inq(self):
        """Bytes written to the master that the reader has not read yet, or
        None if unknown.

        FIONREAD on the slave counts only what has reached its line
        discipline; bytes just written sit in the tty's flip buffer until a
        kernel work item moves them there, and FIONREAD says 0 meanwhile
        (measured: 1 time in 40 right after a write).  poll() on the slave
        runs that work item synchronously when the line discipline looks
        empty (n_tty_poll -> tty_buffer_flush_work), so poll first, then
        count: 0 then really means "all taken by the reader"."""
        try:
            fd = os.open(self.slave_name, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            p.poll(0)
            return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
        except OSError:
            return None
        finally:
            os.close(fd)

    def _flush_stale(self):
        """Throw away bytes nobody read, so a later reader starts fresh."""
        if not self.dirty:
            return
        try:
            fd = os.open(self.slave_name, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as e:
            log("cannot flush stale pty data: %s" % e)
            return
        try:
            termios.tcflush(fd, termios.TCIFLUSH)
            self.dirty = False
        except termios.error:
            pass
        finally:
            os.close(fd)

    def backlog(self):
        return 0

    def send(self, data):
        if not self.has_reader():
            self._flush_stale()
            return {"delivered": False}
        view = memoryview(data)
        last = time.monotonic()
        poller = select.poll()
        poller.register(self.master, select.POLLOUT | select.POLLIN)
        while view:
            try:
                n = os.write(self.master, view)
                view = view[n:]
                self.dirty = True
                last = time.monotonic()
                continue
            except BlockingIOError:
                pass
            except OSError:
                break
            if self.stalled:
                break  # the reader is not reading: do not wait for it again
            gone = False
            for _fd, rev in poller.poll(100):
                if rev & select.POLLIN:
                    self._drain()
                if rev & _POLLHUP:
                    gone = True
            if gone:
                break
            if time.monotonic() - last > self.stall:
                log("pty reader is not reading; dropping telegrams until it does")
                self.stalled = True
                break
        if view:
            if not self.has_reader():
                self._flush_stale()
            result = {"delivered": False}
            if len(view) < len(data):
                result["partial"] = len(data) - len(view)
            return result
        self.stalled = False
        return {"delivered": True}

    def _linger(self, timeout):
        """Wait (at most `timeout` s) until a present reader has read all we
        wrote: closing the master hangs the slave up, and the kernel throws
        away whatever the reader has not read by then.  Returns True when
        nothing is left unread (or nothing was written), False when bytes
        are lost (the reader left, or did not read in time)."""
        deadline = time.monotonic() + timeout
        while self.dirty:
            inq = self._slave_inq()
            if inq == 0:
                self.dirty = False
                break
            if not self.has_reader() or time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def hang_up(self):
        """First half of a disconnect: give the reader up to 1 s to read the
        last telegram, then remove the link and close the pty (the reader
        gets EIO/hang-up).  Returns whether everything written was read."""
        drained = self._linger(1.0)
        with signals_deferred():
            self._unlink()
            os.close(self.master)
            self.master = None
        return drained

    def come_back(self):
        """Second half: after `pause` s, a new pty behind the same link."""
        time.sleep(self.pause)
        self._open()

    def disconnect(self):
        """The device node goes away (the reader gets EIO/hang-up) and comes
        back after `pause` seconds as a new pty behind the same symlink.  The
        reader first gets up to 1 s to read the telegram before the loss.
        Returns whether the reader had read everything before the loss."""
        drained = self.hang_up()
        self.come_back()
        return drained

    def close(self, linger=0.0):
        """Returns whether the reader had read everything before the end."""
        if self.master is None:
            return True
        drained = self._linger(linger)
        with signals_deferred():
            self._unlink()
            os.close(self.master)
            self.master = None
        return drained


class _Client:
    __slots__ = ("sock", "pending", "last_progress", "peer")

    def __init__(self, sock, peer):
        self.sock = sock
        self.pending = bytearray()
        self.last_progress = time.monotonic()
        self.peer = peer


def parse_hostport(text, default_host="127.0.0.1"):
    """'PORT', 'HOST:PORT' or '[V6]:PORT' -> (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    elif ":" in text:
        host, _, port = text.rpartition(":")
    else:
        host, port = default_host, text
    port = int(port)
    if not 0 <= port <= 65535:
        raise ValueError("port %d out of range" % port)
    return host or default_host, port


class TcpSink:
    """A TCP server like a network P1 adapter (ser2net, ESP-Link...): every
    connected client gets the stream, starting at the next whole telegram.

    Memory is bounded: a client with more than `max_pending` bytes queued
    (it stopped reading) is dropped when a new telegram is due, and one that
    has made no progress for `stall` seconds while data waits is dropped too.
    """

    kind = "tcp"
    can_disconnect = True

    def __init__(self, host, port, max_pending=1 << 20, stall=30.0):
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, socktype, proto, _c, addr = infos[0]
        sock = socket.socket(family, socktype, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(16)
        sock.setblocking(False)
        self.listener = sock
        self.host = host
        self.port = sock.getsockname()[1]
        self.clients = {}
        self.max_pending = max_pending
        self.stall = stall
        self.accepted = 0
        shown = "[%s]" % host if ":" in host else host
        announce("listening on %s:%d" % (shown, self.port))

    def fds(self):
        now = time.monotonic()
        out = [(self.listener.fileno(), select.POLLIN)]
        for fd, c in list(self.clients.items()):
            if c.pending and now - c.last_progress > self.stall:
                log("port %d: client %s stalled for %.0f s, dropped" % (self.port, c.peer, self.stall))
                self._drop(fd)
                continue
            out.append((fd, select.POLLIN | (select.POLLOUT if c.pending else 0)))
        return out

    def handle(self, fd, revents):
        if fd == self.listener.fileno():
            self._accept()
            return
        c = self.clients.get(fd)
        if c is None:
            return
        if revents & (select.POLLIN | select.POLLHUP | select.POLLERR):
            try:
                while True:
                    chunk = c.sock.recv(4096)
                    if not chunk:
                        self._drop(fd)  # the client closed its side
                        return
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._drop(fd)
                return
        if revents & select.POLLOUT:
            self._flush(fd, c)

    def _accept(self):
        while True:
            try:
                sock, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log("accept: %s" % e)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.clients[sock.fileno()] = _Client(sock, peer)
            self.accepted += 1

    def _flush(self, fd, c):
        while c.pending:
            try:
                n = c.sock.send(c.pending)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(fd)
                return
            del c.pending[:n]
            c.last_progress = time.monotonic()

    def _drop(self, fd):
        c = self.clients.pop(fd, None)
        if c is not None:
            try:
                c.sock.close()
            except OSError:
                pass

    def has_reader(self):
        self._accept()
        return bool(self.clients)

    def backlog(self):
        return max((len(c.pending) for c in self.clients.values()), default=0)

    def send(self, data):
        self._accept()  # a client that connected before this telegram gets it
        n = 0
        for fd, c in list(self.clients.items()):
            if len(c.pending) > self.max_pending:
                log("port %d: client %s is not reading, dropped" % (self.port, c.peer))
                self._drop(fd)
                continue
            if not c.pending:
                c.last_progress = time.monotonic()
            c.pending += data
            self._flush(fd, c)
            if fd in self.clients:
                n += 1
        return {"delivered": n > 0, "clients": n}

    def _flush_all(self, timeout):
        deadline = time.monotonic() + timeout
        while any(c.pending for c in self.clients.values()) and time.monotonic() < deadline:
            p = select.poll()
            for fd, c in self.clients.items():
                if c.pending:
                    p.register(fd, select.POLLOUT)
            for fd, rev in p.poll(50):
                c = self.clients.get(fd)
                if c is None:
                    continue
                if rev & (select.POLLERR | select.POLLNVAL):
                    self._drop(fd)
                else:
                    self._flush(fd, c)

    def _close_clients(self):
        for fd in list(self.clients):
            c = self.clients[fd]
            try:
                # Read what the client sent, so close() sends FIN, not RST
                # (an RST can destroy data the client has not read yet).
                while c.sock.recv(4096):
                    pass
            except OSError:
                pass
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self._drop(fd)

    def hang_up(self):
        """Close every client connection (after the telegram just queued has
        gone out, up to 2 s) and keep listening.  Returns whether every
        queued byte went out."""
        self._flush_all(2.0)
        drained = not any(c.pending for c in self.clients.values())
        self._close_clients()
        return drained

    def come_back(self):
        pass  # the listener never went away

    def disconnect(self):
        return self.hang_up()

    def close(self, linger=0.0):
        self._flush_all(linger)
        drained = not any(c.pending for c in self.clients.values())
        self._close_clients()
        self.listener.close()
        return drained


class IoLoop:
    """Services all sinks (accepting clients, draining input, flushing queued
    output) while the simulator waits for the next telegram's time."""

    def __init__(self, sinks):
        self.sinks = sinks

    def run_until(self, deadline=None, predicate=None, tick=0.1):
        """Service I/O until `deadline` (monotonic; None = no limit) or until
        `predicate()` is true.  Returns whether the predicate became true."""
        while True:
            if predicate is not None and predicate():
                return True
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            timeout = tick if deadline is None else min(tick, deadline - now)
            self.poll_once(timeout)

    def poll_once(self, timeout=0.0):
        p = select.poll()
        owner = {}
        for sink in self.sinks:
            for fd, events in sink.fds():
                p.register(fd, events)
                owner[fd] = sink
        if not owner:
            if timeout > 0:
                time.sleep(timeout)
            return
        for fd, rev in p.poll(max(0, math.ceil(timeout * 1000))):
            sink = owner.get(fd)
            if sink is not None:
                sink.handle(fd, rev)
