"""A deadline on a whole network exchange: a webhook POST, an SMTP session.

A socket timeout bounds each read, not the exchange: a server that answers one byte every
few seconds, or a mail server that hangs between commands, would hold a worker for as long
as it likes. Inside `with Deadline(seconds):` every socket opened by the connection classes
below is shut down once the time is up, which wakes whatever waits on it; the block then
raises DeadlineExceeded.
"""

import http.client
import smtplib
import socket
import threading

from django.core.mail.backends.smtp import EmailBackend

_current = threading.local()


class DeadlineExceeded(Exception):
    pass


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sockets: list[socket.socket] = []
        self.expired = threading.Event()
        self.lock = threading.Lock()

    def __enter__(self) -> "Deadline":
        self.outer = getattr(_current, "deadline", None)
        _current.deadline = self
        self.timer = threading.Timer(self.seconds, self._expire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.timer.cancel()
        _current.deadline = self.outer
        if self.expired.is_set():
            raise DeadlineExceeded(f"took longer than {self.seconds:g} s") from error

    def watch(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.append(sock)
        if self.expired.is_set():
            _shut(sock)

    def _expire(self) -> None:
        self.expired.set()
        with self.lock:
            for sock in self.sockets:
                _shut(sock)


def watch(sock: socket.socket | None) -> None:
    """Put `sock` under the current thread's deadline, if there is one."""
    deadline = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed already


class HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        watch(self.sock)


class HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        watch(self.sock)


class _SMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        watch(sock)  # before the greeting is read: a server may hang right there
        return sock

    def starttls(self, *args, **kwargs):
        reply = super().starttls(*args, **kwargs)
        watch(self.sock)  # the TLS socket: the plain one was detached from its descriptor
        return reply


class _SMTP_SSL(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        watch(sock)
        return sock


class SMTPBackend(EmailBackend):
    """Django's SMTP backend whose sockets a Deadline can shut."""

    @property
    def connection_class(self):
        return _SMTP_SSL if self.use_ssl else _SMTP
