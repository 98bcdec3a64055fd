//! The connection pool: one SSH connection per (user, host, port) (and host-key policy), shared by
//! every request to that target through its session channels.
//!
//! Each target has at most one connection and at most `max_sessions` channels
//! open on it (sshd's `MaxSessions`, 10 by default). A request beyond that
//! waits for a free channel slot rather than opening a second connection: one
//! handshake per node keeps sshd's `MaxStartups` and CPU out of the way when
//! hundreds of nodes run at once. A connection is opened when the first
//! request needs it (concurrent first requests wait for that one handshake),
//! closed when it has been idle for `idle_timeout`, and replaced on next use
//! when it died (keepalives notice a silent peer).
//!
//! With `max_connections`, a new connection that would exceed the bound first
//! closes the least recently used connection that no request uses: each
//! connection is a file descriptor, and a fan-out over thousands of nodes
//! must not run out of them. When every connection is in use the new one
//! opens anyway; the callers' concurrency (threadcount) bounds that.

use crate::error::SshError;
use crate::known_hosts::{self, HostKeyPolicy, KnownHosts};
use russh::client;
use russh::keys::PublicKey;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Counters of the connection pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections opened (authenticated) since the executor was created.
    pub connections_opened: u64,
    /// Connections open now, or being opened.
    pub open_connections: usize,
    /// Session channels in use now.
    pub active_sessions: usize,
}

/// Where a connection goes and as whom. The host-key policy is part of the
/// key so that a node asking for `strict` never reuses a connection that was
/// opened under `off`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub policy: HostKeyPolicy,
}

impl Target {
    pub(crate) fn label(&self) -> String {
        known_hosts::host_label(&self.host, self.port)
    }
}

/// russh's event handler: checks the host key.
pub(crate) struct Client {
    pub known_hosts: Arc<dyn KnownHosts>,
    pub policy: HostKeyPolicy,
    pub label: String,
    pub refusal: Arc<Mutex<Option<SshError>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKey) -> Result<bool, Self::Error> {
        match known_hosts::verify(self.known_hosts.as_ref(), self.policy, &self.label, key).await {
            Ok(()) => Ok(true),
            Err(refusal) => {
                *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(refusal);
                Ok(false)
            }
        }
    }
}

/// One authenticated connection.
pub(crate) struct Conn {
    pub handle: client::Handle<Client>,
    active: AtomicUsize,
    last_used: Mutex<Instant>,
    /// Counted in the pool's open connections (until closed or evicted).
    counted: AtomicBool,
}

impl Conn {
    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    /// Stops counting it as open, once.
    fn uncount(&self, open: &AtomicUsize) {
        if self.counted.swap(false, Ordering::AcqRel) {
            open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The pool's state for one target.
struct Slot {
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    sessions: Arc<Semaphore>,
}

/// The right to use one session channel on a connection.
pub(crate) struct Lease {
    pub conn: Arc<Conn>,
    /// This request opened the connection (it was not reused).
    pub fresh: bool,
    active: Arc<AtomicUsize>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.conn.touch();
        self.conn.active.fetch_sub(1, Ordering::AcqRel);
        self.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection counted as open while it is being opened; uncounted again
/// if that fails or is abandoned.
struct Reservation {
    open: Arc<AtomicUsize>,
    armed: bool,
}

impl Reservation {
    /// The connection is open: from now on it is counted as such.
    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.armed {
            self.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The pool.
pub(crate) struct Pool {
    slots: Mutex<HashMap<Target, Arc<Slot>>>,
    max_sessions: usize,
    max_connections: Option<usize>,
    idle_timeout: Duration,
    opened: AtomicU64,
    open: Arc<AtomicUsize>,
    active: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("max_sessions", &self.max_sessions)
            .field("max_connections", &self.max_connections)
            .field("idle_timeout", &self.idle_timeout)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Pool {
    pub(crate) fn new(
        max_sessions: usize,
        max_connections: Option<usize>,
        idle_timeout: Duration,
    ) -> Self {
        Pool {
            slots: Mutex::new(HashMap::new()),
            max_sessions: max_sessions.max(1),
            max_connections: max_connections.map(|m| m.max(1)),
            idle_timeout,
            opened: AtomicU64::new(0),
            open: Arc::new(AtomicUsize::new(0)),
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            connections_opened: self.opened.load(Ordering::Acquire),
            open_connections: self.open.load(Ordering::Acquire),
            active_sessions: self.active.load(Ordering::Acquire),
        }
    }

    fn slot(&self, target: &Target) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry(target.clone())
            .or_insert_with(|| {
                Arc::new(Slot {
                    conn: tokio::sync::Mutex::new(None),
                    sessions: Arc::new(Semaphore::new(self.max_sessions)),
                })
            })
            .clone()
    }

    /// A channel slot on the target's connection, opening the connection
    /// with `connect` when there is none or it died.
    pub(crate) async fn lease<F, Fut, E>(&self, target: &Target, connect: F) -> Result<Lease, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<client::Handle<Client>, E>>,
    {
        let slot = self.slot(target);
        // the semaphore is never closed, so this is always a permit
        let permit = slot.sessions.clone().acquire_owned().await.ok();
        let mut current = slot.conn.lock().await;
        if let Some(conn) = current.as_ref().filter(|c| !c.handle.is_closed()) {
            return Ok(self.lease_on(conn.clone(), false, permit));
        }
        if let Some(dead) = current.take() {
            // its watcher notices and counts it closed
            drop(dead);
        }
        let reservation = self.reserve(&slot);
        let handle = connect().await?;
        reservation.keep();
        let conn = Arc::new(Conn {
            handle,
            active: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
            counted: AtomicBool::new(true),
        });
        self.opened.fetch_add(1, Ordering::AcqRel);
        *current = Some(conn.clone());
        let lease = self.lease_on(conn.clone(), true, permit);
        drop(current);
        tokio::spawn(watch(
            slot,
            conn,
            self.idle_timeout,
            self.open.clone(),
            target.label(),
        ));
        Ok(lease)
    }

    fn lease_on(
        &self,
        conn: Arc<Conn>,
        fresh: bool,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Lease {
        conn.active.fetch_add(1, Ordering::AcqRel);
        conn.touch();
        self.active.fetch_add(1, Ordering::AcqRel);
        Lease {
            conn,
            fresh,
            active: self.active.clone(),
            _permit: permit,
        }
    }

    /// Counts a connection about to be opened, first closing the least
    /// recently used idle connection when it would exceed `max_connections`.
    /// Counting before connecting keeps concurrent openers within the bound.
    fn reserve(&self, own: &Arc<Slot>) -> Reservation {
        loop {
            let open = self.open.load(Ordering::Acquire);
            let room = self.max_connections.is_none_or(|max| open < max);
            if room {
                if self
                    .open
                    .compare_exchange(open, open + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    continue;
                }
            } else if self.close_idle(own) {
                continue;
            } else {
                // every connection is in use: open one more
                self.open.fetch_add(1, Ordering::AcqRel);
            }
            return Reservation {
                open: self.open.clone(),
                armed: true,
            };
        }
    }

    /// Closes the least recently used connection that no request uses;
    /// `false` when there is none. Slots busy connecting (their lock held)
    /// and `own` (locked by the caller) are skipped.
    fn close_idle(&self, own: &Arc<Slot>) -> bool {
        let slots: Vec<Arc<Slot>> = {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.values().cloned().collect()
        };
        let mut oldest: Option<(Duration, Arc<Slot>)> = None;
        for slot in slots {
            if Arc::ptr_eq(&slot, own) {
                continue;
            }
            let Ok(current) = slot.conn.try_lock() else {
                continue;
            };
            let Some(conn) = current.as_ref() else {
                continue;
            };
            if conn.active.load(Ordering::Acquire) == 0 {
                let idle = conn.idle_for();
                if oldest.as_ref().is_none_or(|(d, _)| idle > *d) {
                    oldest = Some((idle, slot.clone()));
                }
            }
        }
        let Some((_, slot)) = oldest else {
            return false;
        };
        // leases are taken under this lock: none can start while it is held;
        // when it is taken meanwhile, the caller looks again
        let Ok(mut current) = slot.conn.try_lock() else {
            return true;
        };
        let Some(conn) = current.take_if(|c| c.active.load(Ordering::Acquire) == 0) else {
            return true;
        };
        drop(current);
        conn.uncount(&self.open);
        tracing::debug!("closing the least recently used idle ssh connection");
        tokio::spawn(async move {
            let _ = conn
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        });
        true
    }

    /// Forgets `conn` as the target's connection (it failed), so that the
    /// next request opens a new one. Channels still running on it go on; its
    /// watcher closes it once they are done.
    pub(crate) async fn invalidate(&self, target: &Target, conn: &Arc<Conn>) {
        let slot = self.slot(target);
        let mut current = slot.conn.lock().await;
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            *current = None;
        }
    }
}

/// Closes the connection once it has been idle long enough, and counts it
/// closed when it ends for any reason.
async fn watch(
    slot: Arc<Slot>,
    conn: Arc<Conn>,
    idle_timeout: Duration,
    open: Arc<AtomicUsize>,
    label: String,
) {
    let tick = (idle_timeout / 4).clamp(Duration::from_millis(20), Duration::from_secs(5));
    loop {
        tokio::time::sleep(tick).await;
        if conn.handle.is_closed() {
            tracing::debug!(host = %label, "ssh connection closed");
            let mut current = slot.conn.lock().await;
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn)) {
                *current = None;
            }
            break;
        }
        let is_current = {
            let current = slot.conn.lock().await;
            current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn))
        };
        if !is_current && conn.active.load(Ordering::Acquire) == 0 {
            // replaced after a failure and no longer used
            let _ = conn
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
            break;
        }
        if conn.active.load(Ordering::Acquire) == 0 && conn.idle_for() >= idle_timeout {
            let mut current = slot.conn.lock().await;
            // leases are taken under this lock: no new one can start now
            if conn.active.load(Ordering::Acquire) == 0 && conn.idle_for() >= idle_timeout {
                if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn)) {
                    *current = None;
                }
                drop(current);
                tracing::debug!(host = %label, "closing idle ssh connection");
                let _ = conn
                    .handle
                    .disconnect(russh::Disconnect::ByApplication, "idle", "en")
                    .await;
                break;
            }
        }
    }
    conn.uncount(&open);
}

/// Opens a session channel, retrying while sshd refuses it on a live
/// connection until `until`: sshd may still count a session that just closed
/// on our side against its `MaxSessions`.
pub(crate) async fn open_session(
    handle: &client::Handle<Client>,
    until: tokio::time::Instant,
) -> std::result::Result<russh::Channel<client::Msg>, russh::Error> {
    let mut pause = Duration::from_millis(10);
    loop {
        match handle.channel_open_session().await {
            Err(russh::Error::ChannelOpenFailure(why))
                if !handle.is_closed() && tokio::time::Instant::now() + pause < until =>
            {
                tracing::debug!("session refused ({why:?}), retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}
