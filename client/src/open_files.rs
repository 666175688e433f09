//! The process's open-file limit, raised to what the system allows.
//!
//! Every socket is a file descriptor: the API server of a 1,000-node
//! simulated cluster holds about six thousand connections, the simulated
//! kubelet thousands of watches. Many systems start processes with a soft
//! limit of 1,024 and a much higher hard limit. Go raises the soft limit to
//! the hard one when any program starts (Go 1.19 and later), so
//! kube-apiserver and the kubelet never meet the soft limit; minik's
//! components do the same, explicitly.

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the limit now
/// in force, or `None` if it could not be read.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    Some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let now = raise_open_files_limit().expect("readable");
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(limit.rlim_cur, limit.rlim_max);
        assert_eq!(now, limit.rlim_cur);
    }
}
