//! Hosts on worker threads, and the workers left without a host lending a hand. A host is replayed
//! by one thread (its engine sees one ordered stream), so a single host's hunt ran on one core
//! whatever `--threads` said, and a fleet hunt's last host ran alone once the others had finished.
//! A worker with no host left to take waits here instead, and a host still replaying hands it one
//! of its files to parse ahead (see [`crate::ahead`]); the host's own thread keeps the merge and the
//! engine.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Work a host hands to an idle worker.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// The workers without a host to replay.
#[derive(Default)]
pub(crate) struct Helpers {
    state: Mutex<State>,
    wake: Condvar,
    /// Idle workers not yet claimed: read without the lock, so that a host asks at no cost while
    /// every worker is busy.
    idle: AtomicUsize,
    /// Jobs given so far (for tests: that a helper did take part).
    given: AtomicUsize,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Hosts not finished (started or not): a worker stops waiting for jobs when this reaches 0.
    hosts_left: usize,
    /// Idle workers not yet claimed (the lock's copy of `idle`).
    idle: usize,
}

impl Helpers {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock (jobs run without it), so its counts are whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a worker is idle now (it may be claimed by another host before [`Helpers::claim`]).
    pub(crate) fn has_idle(&self) -> bool {
        self.idle.load(Ordering::Relaxed) > 0
    }

    /// Claims an idle worker, to [`give`](Claim::give) a job to; None when none is idle. Claiming
    /// first lets the caller keep what the job would take when there is no worker for it.
    pub(crate) fn claim(&self) -> Option<Claim<'_>> {
        let mut st = self.lock();
        if st.idle == 0 {
            return None;
        }
        self.count_idle(&mut st, -1);
        Some(Claim(Some(self)))
    }

    fn count_idle(&self, st: &mut State, by: isize) {
        st.idle = st.idle.saturating_add_signed(by);
        self.idle.store(st.idle, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(crate) fn given(&self) -> usize {
        self.given.load(Ordering::Relaxed)
    }

    /// A worker with no host left: runs the jobs it is given until every host is finished.
    fn help(&self) {
        let mut st = self.lock();
        self.count_idle(&mut st, 1);
        loop {
            if let Some(job) = st.jobs.pop_front() {
                // Claimed already: `idle` was counted down by the host that gave it.
                drop(st);
                job();
                st = self.lock();
                self.count_idle(&mut st, 1);
            } else if st.hosts_left == 0 {
                self.count_idle(&mut st, -1);
                return;
            } else {
                st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

/// An idle worker claimed for a job: given it, or back to idle if dropped without one.
pub(crate) struct Claim<'a>(Option<&'a Helpers>);

impl Claim<'_> {
    pub(crate) fn give(mut self, job: Job) {
        if let Some(h) = self.0.take() {
            h.lock().jobs.push_back(job);
            h.given.fetch_add(1, Ordering::Relaxed);
            h.wake.notify_one();
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let mut st = h.lock();
            h.count_idle(&mut st, 1);
        }
    }
}

/// Counts a host as finished however its run ends: a host that panicked must still let the
/// helpers stop waiting, so that the panic reaches the caller instead of hanging the hunt.
struct HostDone<'a>(&'a Helpers);

impl Drop for HostDone<'_> {
    fn drop(&mut self) {
        self.0.lock().hosts_left -= 1;
        self.0.wake.notify_all();
    }
}

/// `f` of every host on up to `threads` threads, the biggest by `cost` first, each thread taking the
/// next host when it is free and helping the hosts still running once none is left; the results in
/// the hosts' order. One thread runs them in place, with no helpers.
pub(crate) fn map_hosts<T: Sync, R: Send>(
    hosts: &[T],
    threads: usize,
    cost: impl Fn(&T) -> u64,
    f: impl Fn(&T, Option<&Helpers>) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 || hosts.is_empty() {
        return hosts.iter().map(|h| f(h, None)).collect();
    }
    let order = crate::setup::biggest_first(hosts, cost);
    let helpers = Helpers::default();
    helpers.lock().hosts_left = hosts.len();
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(hosts.len()));
    std::thread::scope(|s| {
        // More threads than hosts is not idle: the extra ones help from the start.
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(n) else { break };
                    let Some(host) = hosts.get(i) else { break };
                    let _done = HostDone(&helpers);
                    let r = f(host, Some(&helpers));
                    if let Ok(mut d) = done.lock() {
                        d.push((i, r));
                    }
                }
                helpers.help();
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Every host's result comes back in the hosts' order, on any number of threads.
    #[test]
    fn results_keep_the_hosts_order() {
        let hosts: Vec<u64> = vec![3, 90, 7, 50, 1, 70, 20, 50];
        for threads in [1, 2, 3, 16] {
            let out = map_hosts(&hosts, threads, |&c| c, |&c, _| c * 2);
            assert_eq!(out, [6, 180, 14, 100, 2, 140, 40, 100], "{threads}");
        }
    }

    /// A host that is still running when the other worker runs out of hosts gets that worker's
    /// help: the job runs on another thread while the host waits for its result. One host on two
    /// threads has a helper from the start; on one thread, none.
    #[test]
    fn a_worker_without_a_host_runs_a_running_hosts_job() {
        let hosts = [1u32];
        let helped = map_hosts(
            &hosts,
            2,
            |_| 1,
            |_, helpers| {
                let h = helpers?;
                // The other worker becomes idle once it finds no host to take.
                while !h.has_idle() {
                    std::thread::yield_now();
                }
                let claim = h.claim()?;
                // Claimed: no second claim while it is the only worker; a claim dropped unused
                // frees it.
                if h.claim().is_some() || h.has_idle() {
                    return Some(false);
                }
                drop(claim);
                let claim = h.claim()?;
                let (tx, rx) = mpsc::channel();
                let me = std::thread::current().id();
                claim.give(Box::new(move || {
                    tx.send(std::thread::current().id() != me).ok();
                }));
                rx.recv().ok()
            },
        );
        assert_eq!(helped, [Some(true)]);
        let alone = map_hosts(&hosts, 1, |_| 1, |_, helpers| helpers.is_some());
        assert_eq!(alone, [false]);
    }

    /// A host that panics reaches the caller as a panic, on any number of threads: the other
    /// workers, waiting to help, stop waiting instead of holding the hunt forever.
    #[test]
    fn a_host_that_panics_does_not_hang_the_others() {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for threads in [1, 2, 3] {
                let run = std::panic::catch_unwind(|| {
                    map_hosts(
                        &[1u32, 2, 3],
                        threads,
                        |&c| c.into(),
                        |&c, _| {
                            assert!(c != 2, "host 2 fails");
                            c
                        },
                    )
                });
                tx.send((threads, run.is_err())).ok();
            }
        });
        for threads in [1, 2, 3] {
            let got = rx.recv_timeout(std::time::Duration::from_secs(30));
            assert_eq!(
                got,
                Ok((threads, true)),
                "{threads} threads: hung or no panic"
            );
        }
    }
}
