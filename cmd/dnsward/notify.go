package main

import (
	"log/slog"

	systemd "github.com/coreos/go-systemd/v22/daemon"
)

// notifier tells systemd (Type=notify) about the service's state through
// $NOTIFY_SOCKET: READY=1 once serving and after each reload, RELOADING=1
// with the monotonic clock when a reload begins, STOPPING=1 when the drain
// begins. Without $NOTIFY_SOCKET (not under systemd) it does nothing.
type notifier struct{ log *slog.Logger }

func (n notifier) ready()    { n.send(systemd.SdNotifyReady) }
func (n notifier) stopping() { n.send(systemd.SdNotifyStopping) }
func (n notifier) reloading() {
	n.send(systemd.SdNotifyReloading + "\n" + systemd.SdNotifyMonotonicUsec())
}

func (n notifier) send(state string) {
	if _, err := systemd.SdNotify(false, state); err != nil {
		n.log.Warn("dnsward: sd_notify failed", "err", err)
	}
}
